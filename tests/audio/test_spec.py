from __future__ import annotations

import pytest
from pydantic import ValidationError

from remix.audio.spec import RemixSpec

WINDOW = {"start_seconds": 1.0, "length_seconds": 10.0}


def problems(body: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        RemixSpec.model_validate(body)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in info.value.errors()]


def fields(body: dict[str, object]) -> set[str]:
    return {where for where, _ in problems(body)}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tempo": 2.5}, "tempo"),
        ({"tempo": 0.49}, "tempo"),
        ({"key_shift": 13}, "key_shift"),
        ({"key_shift": 1.5}, "key_shift"),
        ({"stems": {"bass": {"gain_db": 12.5}}}, "stems.bass.gain_db"),
        ({"stems": {"bass": {"gain_db": -61}}}, "stems.bass.gain_db"),
        ({"stems": {"bass": {"pan": 1.2}}}, "stems.bass.pan"),
        ({"stems": {"bass": {"volume": 3}}}, "stems.bass.volume"),
        ({"filter": {"kind": "lowpass", "cutoff_hz": 10}}, "filter.cutoff_hz"),
        ({"filter": {"kind": "bandpass", "cutoff_hz": 1000}}, "filter.kind"),
        ({"window": {"start_seconds": -1, "length_seconds": 5}}, "window.start_seconds"),
        ({"window": {"start_seconds": 0, "length_seconds": 0}}, "window.length_seconds"),
        ({"window": {**WINDOW, "loops": 17}}, "window.loops"),
        ({"tempo_ratio": 1.5}, "tempo_ratio"),
        ({"seed": -1}, "seed"),
    ],
)
def test_out_of_range_and_unknown_fields_are_named(body: dict[str, object], field: str) -> None:
    assert field in fields({"window": WINDOW, **body})


def test_window_is_required() -> None:
    assert "window" in fields({})


def test_bad_stem_name_is_refused() -> None:
    assert any(where.startswith("stems.Bass") for where in fields({"window": WINDOW, "stems": {"Bass": {}}}))


def test_filter_needs_a_cutoff_and_none_takes_none() -> None:
    assert any("needs cutoff_hz" in msg for _, msg in problems({"window": WINDOW, "filter": {"kind": "highpass"}}))
    assert any("kind is 'none'" in msg for _, msg in problems({"window": WINDOW, "filter": {"cutoff_hz": 500}}))


def test_fades_longer_than_the_output_are_refused() -> None:
    # 10 s at tempo 2 is 5 s of output: 3 s + 3 s of fades do not fit.
    msgs = [msg for _, msg in problems({"window": WINDOW, "tempo": 2.0, "fade_in_seconds": 3, "fade_out_seconds": 3})]
    assert any("longer than the output" in m for m in msgs)


def test_output_length_counts_tempo_and_loops() -> None:
    spec = RemixSpec.model_validate({"window": {"start_seconds": 0, "length_seconds": 12, "loops": 3}, "tempo": 1.2})
    assert spec.output_seconds == pytest.approx(30.0)


def test_solo_and_mute_decide_who_is_heard() -> None:
    names = ["soprano", "alto", "tenor", "bass"]
    spec = RemixSpec.model_validate({"window": WINDOW, "stems": {"alto": {"mute": True}}})
    assert spec.audible_stems(names) == ["soprano", "tenor", "bass"]
    spec = RemixSpec.model_validate({"window": WINDOW, "stems": {"bass": {"solo": True}, "tenor": {"solo": True}}})
    assert spec.audible_stems(names) == ["tenor", "bass"]
    spec = RemixSpec.model_validate({"window": WINDOW, "stems": {"bass": {"solo": True, "mute": True}}})
    assert spec.audible_stems(names) == []


def test_equivalent_specs_share_canonical_form_and_hash() -> None:
    a = RemixSpec.model_validate({"window": WINDOW, "stems": {"bass": {}, "alto": {"gain_db": 3}}, "tempo": 1})
    b = RemixSpec.model_validate({"tempo": 1.0, "stems": {"alto": {"gain_db": 3.0, "pan": -0.0}}, "window": WINDOW})
    assert a.canonical_json() == b.canonical_json()
    assert a.spec_hash == b.spec_hash
    assert len(a.spec_hash) == 64
    c = RemixSpec.model_validate({"window": WINDOW, "stems": {"alto": {"gain_db": 3.5}}})
    assert c.spec_hash != a.spec_hash


def test_canonical_json_is_stable_text() -> None:
    spec = RemixSpec.model_validate({"window": WINDOW})
    assert spec.canonical_json() == (
        '{"fade_in_seconds":0.0,"fade_out_seconds":0.0,"filter":{"cutoff_hz":null,"kind":"none"},"key_shift":0,'
        '"seed":0,"stems":{},"tempo":1.0,"window":{"length_seconds":10.0,"loops":1,"start_seconds":1.0}}'
    )


def test_output_longer_than_fifteen_minutes_is_refused() -> None:
    msgs = [msg for _, msg in problems({"window": {"start_seconds": 0, "length_seconds": 300, "loops": 4},
                                        "tempo": 1.0})]
    assert any("at most 900 s" in m for m in msgs)
