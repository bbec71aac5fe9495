from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remix.live.protocol import (
    MAX_MESSAGE_BYTES,
    FrameKind,
    MixMessage,
    PromptMessage,
    ProtocolError,
    pack_frame,
    parse_client_message,
    unpack_frame,
)


def test_prompt_and_mix_messages_parse_to_their_types() -> None:
    prompt = parse_client_message('{"type": "prompt", "id": "p1", "text": "stars over a harbour"}')
    assert isinstance(prompt, PromptMessage) and prompt.text == "stars over a harbour"
    mix = parse_client_message(json.dumps({"type": "mix", "id": "m1", "spec": {"tempo": 1.1}}))
    assert isinstance(mix, MixMessage) and mix.spec == {"tempo": 1.1}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{not json", "MalformedMessage"),
        ("[1, 2]", "MalformedMessage"),
        ('{"type": "dance", "id": "x"}', "UnknownMessageType"),
        ('{"type": "seek", "id": "s", "position_seconds": -3}', "InvalidMessage"),
        ('{"type": "prompt", "id": "p"}', "InvalidMessage"),
        ('{"type": "ping"}', "InvalidMessage"),
        ('{"type": "ping", "id": "x", "extra": 1}', "InvalidMessage"),
        (json.dumps({"type": "prompt", "id": "p", "text": "a" * (MAX_MESSAGE_BYTES + 1)}), "MessageTooLarge"),
    ],
)
def test_bad_messages_get_a_typed_error_naming_the_problem(raw: str, error: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    assert caught.value.error == error
    assert caught.value.detail


def test_error_keeps_the_message_id_so_the_client_can_match_it() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message('{"type": "seek", "id": "s9", "position_seconds": "soon"}')
    assert caught.value.to_json()["id"] == "s9"
    assert "position_seconds" in caught.value.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), json_values.map(json.dumps),
                 st.fixed_dictionaries({"type": st.sampled_from(["prompt", "mix", "seek", "ping", "play"]),
                                        "id": st.text(max_size=70)}, optional={"text": json_values,
                                        "spec": json_values, "position_seconds": json_values}).map(json.dumps)))
def test_fuzzed_messages_either_parse_or_raise_a_protocol_error(raw: str | bytes) -> None:
    try:
        parse_client_message(raw)
    except ProtocolError as exc:
        assert exc.error in {"MalformedMessage", "UnknownMessageType", "InvalidMessage", "MessageTooLarge"}


def test_binary_frames_round_trip_with_their_header() -> None:
    data = pack_frame(FrameKind.image_jpeg, 7, 123_456, b"\xff\xd8jpeg")
    frame = unpack_frame(data)
    assert (frame.kind, frame.sequence, frame.timestamp_ms, frame.payload) == (
        FrameKind.image_jpeg, 7, 123_456, b"\xff\xd8jpeg"
    )
    with pytest.raises(ValueError, match="header"):
        unpack_frame(b"RX")
