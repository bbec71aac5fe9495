"""Live fan sessions driven over the websocket, as a browser would."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remix.live.protocol import Frame, FrameKind
from tests.live.conftest import LiveTrack, frames, grant, receive, receive_json, reply_to, revoke


def send(ws: Any, message_type: str, message_id: str, **fields: object) -> None:
    ws.send_text(json.dumps({"type": message_type, "id": message_id, **fields}))


def decode_wav(frame: Frame) -> np.ndarray:
    audio, rate = soundfile.read(io.BytesIO(frame.payload), dtype="float32", always_2d=True)
    assert rate == 44_100
    return audio


def share_above(chunks: list[np.ndarray], hz: float) -> float:
    """The share of the chunks' energy above ``hz``."""
    mono = np.concatenate(chunks).mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(mono.shape[0], 1 / 44_100)
    return float(power[freqs > hz].sum() / max(power.sum(), 1e-20))


def test_session_without_a_visual_model_plays_server_mixed_audio_and_says_so(live_track: LiveTrack) -> None:
    client = live_track.world.client
    with client.websocket_connect(live_track.ws_url(), headers=live_track.world.headers("fan")) as ws:
        state = receive_json(ws)
        assert state["type"] == "state" and state["visuals"]["available"] is False
        assert state["visuals"]["reason"] == ("the artist has not approved visuals for this album yet; "
                                              "the session plays audio only")
        assert state["audio"]["format"] == "wav" and state["audio"]["chunk_seconds"] <= 0.2
        send(ws, "play", "p1")
        assert reply_to(ws, "p1")["type"] == "ack"
        chunks = frames(ws, FrameKind.audio_wav, 3)
        assert [c.sequence for c in chunks] == [0, 1, 2]
        audio = decode_wav(chunks[1])
        assert audio.shape[0] == pytest.approx(0.15 * 44_100, abs=2) and np.abs(audio).max() > 0.01
        # A ping says what was delivered and what was not (none shed here: one fan, no queue for the mixers).
        send(ws, "ping", "count")
        counts = reply_to(ws, "count")
        assert counts["audio_sent"] >= 3 and counts["audio_shed"] == 0 and "audio_dropped" in counts



def test_a_mix_change_is_heard_in_the_chunks_numbered_from_its_ack(live_track: LiveTrack) -> None:
    client = live_track.world.client
    with client.websocket_connect(live_track.ws_url(), headers=live_track.world.headers("fan")) as ws:
        receive_json(ws)
        send(ws, "play", "p")
        reply_to(ws, "p")
        full = [decode_wav(f) for f in frames(ws, FrameKind.audio_wav, 6)]
        send(ws, "mix", "m", spec={"stems": {"bass": {"solo": True}}, "filter": {"kind": "lowpass",
                                                                                    "cutoff_hz": 400}})
        answer = reply_to(ws, "m")
        assert answer["type"] == "ack"
        first_new = answer["applies_from_audio_sequence"]
        later = [f for f in frames(ws, FrameKind.audio_wav, 12) if f.sequence >= first_new][:4]
        assert later, "no chunk after the mix change"
        bass = [decode_wav(f) for f in later]
    # The solo bass through a 400 Hz low-pass is far darker than the four-voice mix.
    assert share_above(bass, 600) < 0.2 * share_above(full, 600)


def test_bad_messages_get_typed_errors_and_the_connection_stays_usable(live_track: LiveTrack) -> None:
    client = live_track.world.client
    with client.websocket_connect(live_track.ws_url(), headers=live_track.world.headers("fan")) as ws:
        receive_json(ws)
        cases = [
            ('{"type": "mix", "id": "g", "spec": {"stems": {"bass": {"gain_db": 99}}}}', "g", "InvalidMix",
             "gain_db"),
            ('{"type": "mix", "id": "t", "spec": {"tempo": 9}}', "t", "InvalidMix", "tempo"),
            ('{"type": "mix", "id": "u", "spec": {"stems": {"kazoo": {"mute": true}}}}', "u", "RemixSpecRejected",
             "kazoo"),
            ('{"type": "mix", "id": "w", "spec": {"window": {"length_seconds": 1}}}', "w", "InvalidMix", "window"),
            ('{"type": "seek", "id": "s", "position_seconds": 99}', "s", "SeekOutOfRange", "past the end"),
            ('{"type": "dance", "id": "d"}', "d", "UnknownMessageType", "type"),
        ]
        for raw, message_id, error, named in cases:
            ws.send_text(raw)
            answer = reply_to(ws, message_id)
            assert (answer["type"], answer["error"]) == ("error", error), answer
            assert named in answer["detail"]
        ws.send_text("{not json")
        assert receive_json(ws)["error"] == "MalformedMessage"
        ws.send_bytes(b"\x00\xff" * 10)
        assert receive_json(ws)["error"] == "MalformedMessage"
        ws.send_text(json.dumps({"type": "prompt", "id": "big", "text": "x" * 20_000}))
        assert receive_json(ws)["error"] == "MessageTooLarge"
        send(ws, "ping", "alive")
        assert reply_to(ws, "alive")["type"] == "ack"


def test_messages_before_auth_get_unauthorized_then_an_auth_message_opens_the_session(
        live_track: LiveTrack) -> None:
    world = live_track.world
    world.client.cookies.clear()  # logging in (the world fixture) left a session cookie in the client
    with world.client.websocket_connect(live_track.ws_url()) as ws:
        send(ws, "ping", "early")
        answer = receive_json(ws)
        assert (answer["id"], answer["error"]) == ("early", "Unauthorized")
        send(ws, "auth", "a0", token="not-a-token")
        assert reply_to(ws, "a0")["error"] == "Unauthorized"
        send(ws, "auth", "a1", token=world.tokens["fan"])
        assert reply_to(ws, "a1")["type"] == "ack"
        assert receive_json(ws)["type"] == "state"
        send(ws, "ping", "now")
        assert reply_to(ws, "now")["type"] == "ack"
    world.client.cookies.set("remix_session", world.tokens["fan"])
    try:
        with world.client.websocket_connect(live_track.ws_url()) as ws:
            assert receive_json(ws)["type"] == "state"
    finally:
        world.client.cookies.clear()


def test_a_track_without_a_live_preview_grant_or_that_does_not_exist_is_refused(live_track: LiveTrack) -> None:
    world = live_track.world
    revoke(world, live_track.grant_ids["remix_preview"])
    for url, error, code in ((live_track.ws_url(), "ConsentNotGranted", 4403),
                             ("/api/tracks/9999/live", "NotFound", 4404)):
        with world.client.websocket_connect(url, headers=world.headers("fan")) as ws:
            assert receive_json(ws)["error"] == error
            closed = ws.receive()
            assert (closed["type"], closed["code"]) == ("websocket.close", code)


def test_reconnecting_with_the_session_id_resumes_mix_prompt_and_playhead(live_track: LiveTrack) -> None:
    world = live_track.world
    with world.client.websocket_connect(live_track.ws_url(), headers=world.headers("fan")) as ws:
        session_id = receive_json(ws)["session_id"]
        send(ws, "mix", "m", spec={"tempo": 1.25, "stems": {"alto": {"mute": True}}})
        send(ws, "prompt", "p", text="lanterns over a frozen lake")
        send(ws, "seek", "s", position_seconds=1.5)
        assert reply_to(ws, "s")["type"] == "ack"
    with world.client.websocket_connect(live_track.ws_url(session_id), headers=world.headers("fan")) as ws:
        state = receive_json(ws)
    assert state["resumed"] is True and state["session_id"] == session_id
    assert state["mix"] == {"tempo": 1.25, "stems": {"alto": {"mute": True}}}
    assert state["prompt"] == "lanterns over a frozen lake"
    assert state["position_seconds"] == 1.5
    # Someone else's session id does not resume it.
    with world.client.websocket_connect(live_track.ws_url(session_id), headers=world.headers("beta")) as ws:
        notice = receive_json(ws)
        assert notice["notice"] == "SessionNotFound"
        state = receive_json(ws)
        assert state["resumed"] is False and state["mix"] == {}


def test_revoking_the_grant_mid_session_tells_the_fan_and_stops_the_audio(live_track: LiveTrack) -> None:
    world = live_track.world
    with world.client.websocket_connect(live_track.ws_url(), headers=world.headers("fan")) as ws:
        receive_json(ws)
        send(ws, "play", "p")
        reply_to(ws, "p")
        frames(ws, FrameKind.audio_wav, 2)
        revoke(world, live_track.grant_ids["remix_preview"])
        for _ in range(5000):
            message = receive(ws)
            if isinstance(message, dict) and message.get("error") == "ConsentNotGranted":
                break
        else:
            raise AssertionError("the session was not told about the revocation")
        assert "rendering has stopped" in message["detail"]
        # The fan reads which stems, by name; the ids are in the message for support, not in the sentence.
        assert message["detail"].startswith("the artist has not allowed remixing of the soprano, alto, tenor and bass")
        assert message["asset_ids"] == sorted(live_track.stem_ids.values())
        state = receive_json(ws)
        while state.get("type") != "state":  # the album's artwork lost the same grant: its notice may come first
            state = receive_json(ws)
        assert state["rendering"] is False and state["playing"] is False
        send(ws, "ping", "after")
        answer = receive(ws)  # nothing rendered before the revocation is still sent after it
        assert isinstance(answer, dict) and (answer["type"], answer["id"]) == ("ack", "after")
        send(ws, "play", "again")
        assert reply_to(ws, "again")["error"] == "ConsentNotGranted"


def test_a_snapshot_saves_a_spec_whose_clip_matches_a_render_of_the_same_spec(live_track: LiveTrack) -> None:
    world = live_track.world
    grant(world, "download_clip", live_track.album_id)
    mix = {"tempo": 1.1, "key_shift": -2, "stems": {"soprano": {"gain_db": -6.0, "pan": -0.5}}}
    with world.client.websocket_connect(live_track.ws_url(), headers=world.headers("fan")) as ws:
        receive_json(ws)
        send(ws, "mix", "m", spec=mix)
        send(ws, "prompt", "p", text="a lighthouse in fog")
        send(ws, "seek", "s", position_seconds=0.5)
        send(ws, "snapshot", "snap", title="foggy", length_seconds=2.0)
        saved = reply_to(ws, "snap")
    assert saved["type"] == "ack"
    spec = saved["spec"]
    assert spec["window"] == {"start_seconds": 0.5, "length_seconds": 2.0, "loops": 1}
    assert (spec["tempo"], spec["key_shift"]) == (1.1, -2)
    stored = world.client.get(f"/api/live/snapshots/{saved['snapshot_id']}", headers=world.headers("fan")).json()
    assert (stored["spec"], stored["prompt"], stored["title"]) == (spec, "a lighthouse in fog", "foggy")
    assert world.client.get(f"/api/live/snapshots/{saved['snapshot_id']}",
                            headers=world.headers("beta")).status_code == 404
    # The same spec written by hand (the live mix over the snapshot's window) renders the same audio
    # (each downloaded file carries its own watermark id, so the engine's unstamped audio hash is compared).
    by_hand = {**mix, "window": {"start_seconds": 0.5, "length_seconds": 2.0}}
    clips = [world.client.post(f"/api/tracks/{live_track.track_id}/clip?format=wav", json=body,
                               headers=world.headers("fan")) for body in (stored["spec"], by_hand)]
    assert [c.status_code for c in clips] == [200, 200], clips[0].text
    assert clips[0].headers["X-Remix-Audio-Sha256"] == clips[1].headers["X-Remix-Audio-Sha256"]
    assert clips[0].headers["X-Remix-Spec-Sha256"] == saved["spec_hash"]


def test_fuzzed_messages_never_break_the_session(live_track: LiveTrack) -> None:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=8)
    messages = st.one_of(
        st.text(max_size=100), st.binary(max_size=100), json_values.map(json.dumps),
        st.fixed_dictionaries({"type": st.sampled_from(["auth", "prompt", "mix", "seek", "pause", "ping", "snapshot"]),
                               "id": st.text(max_size=70)},
                              optional={"text": json_values, "spec": json_values, "position_seconds": json_values,
                                        "token": json_values, "title": json_values}).map(json.dumps),
    )
    world = live_track.world
    with world.client.websocket_connect(live_track.ws_url(), headers=world.headers("fan")) as ws:
        receive_json(ws)
        probe = iter(range(10**6))

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(messages)
        def survives(raw: str | bytes) -> None:
            if isinstance(raw, bytes):
                ws.send_bytes(raw)
            else:
                ws.send_text(raw)
            marker = f"probe-{next(probe)}"
            send(ws, "ping", marker)
            for _ in range(100):
                message = receive(ws)
                if isinstance(message, dict):
                    assert message["type"] in {"ack", "error", "state", "notice"}, message
                    if message["type"] == "error":
                        assert message["error"] != "InternalError" and message["detail"]
                    if message.get("id") == marker:
                        assert message["type"] in {"ack", "error"}  # error: rate limited
                        return
            raise AssertionError("the session stopped answering")

        survives()
