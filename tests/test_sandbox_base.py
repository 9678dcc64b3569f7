"""The simulated-API base: routing, auth, rate limits on a simulated clock, fault injection, over real HTTP."""

from __future__ import annotations


import pytest
import requests

from connex_core.sandbox import (Fault, Request, Response, SandboxServer, SimClock, SimulatedService, WindowLimiter,
                                 json_response, route)


class Notes(SimulatedService):
    name = "notes"

    def __init__(self, clock=None, seed=0):
        super().__init__(clock, seed)
        self.notes: dict[str, str] = {}
        self.limiter = WindowLimiter(5, 60, self.clock)

    def authenticate(self, request: Request):
        if request.headers.get("authorization") != "Bearer good":
            return json_response({"error": "unauthorised"}, 401)
        return None

    def rate_limit(self, request: Request):
        allowed, remaining, reset = self.limiter.hit("k")
        headers = {"X-Remaining": str(remaining), "X-Reset": f"{reset:.0f}"}
        return (None if allowed else json_response({"error": "slow down"}, 429, headers)), headers

    @route("GET", "/notes/{note_id}")
    def get(self, request: Request) -> Response:
        if request.params["note_id"] not in self.notes:
            return json_response({"error": "no such note"}, 404)
        return json_response({"id": request.params["note_id"], "text": self.notes[request.params["note_id"]]})

    @route("POST", "/notes")
    def create(self, request: Request) -> Response:
        body = request.json()
        note_id = str(len(self.notes) + 1)
        self.notes[note_id] = body["text"]
        return json_response({"id": note_id}, 201)


@pytest.fixture
def notes():
    # real-time speed: the 60-second window cannot pass by itself while a loaded machine makes six calls;
    # the tests move time with advance()
    service = Notes(SimClock(speed=1))
    with SandboxServer([service]):
        yield service


def call(service, method, path, **kw):
    kw.setdefault("headers", {"Authorization": "Bearer good"})
    return requests.request(method, service.base_url + path, timeout=5, **kw)


def test_routes_and_placeholders_over_http(notes):
    assert notes.base_url.startswith("http://127.0.0.1:") and notes.base_url.endswith("/notes")
    created = call(notes, "POST", "/notes", json={"text": "hello ✓"})
    assert created.status_code == 201
    got = call(notes, "GET", f"/notes/{created.json()['id']}")
    assert got.json() == {"id": "1", "text": "hello ✓"}
    assert call(notes, "GET", "/notes/99").status_code == 404
    assert call(notes, "DELETE", "/notes/1").status_code == 404
    assert notes.calls["POST /notes"] == 1


def test_auth_is_checked(notes):
    assert call(notes, "GET", "/notes/1", headers={"Authorization": "Bearer bad"}).status_code == 401


def test_rate_limit_window_resets_when_the_clock_moves_past_it(notes):
    codes = [call(notes, "POST", "/notes", json={"text": "x"}).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]
    notes.clock.advance(61)
    assert call(notes, "POST", "/notes", json={"text": "x"}).status_code == 201


def test_injected_error_then_normal(notes):
    notes.faults.add(Fault("error", status=503, body=b"<html>down</html>", times=1))
    assert call(notes, "POST", "/notes", json={"text": "a"}).status_code == 503
    assert call(notes, "POST", "/notes", json={"text": "a"}).status_code == 201
    assert notes.faults.injected["error"] == 1
    assert notes.notes == {"1": "a"}


def test_dropped_connection_changes_nothing(notes):
    notes.faults.add(Fault("drop", methods=("POST",), times=1))
    with pytest.raises(requests.ConnectionError):
        call(notes, "POST", "/notes", json={"text": "a"})
    assert notes.notes == {}


def test_lost_response_commits_the_write(notes):
    notes.faults.add(Fault("lost_response", methods=("POST",), times=1))
    with pytest.raises(requests.ConnectionError):
        call(notes, "POST", "/notes", json={"text": "committed"})
    assert notes.notes == {"1": "committed"}


def test_faults_are_repeatable_by_seed():
    def draws(seed):
        plan = Notes(seed=seed).faults
        plan.add(Fault("error", rate=0.3))
        req = Request("GET", "/x", {}, {})
        return [plan.draw(req) is not None for _ in range(50)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_the_sandbox_serves_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer([Notes()], host="0.0.0.0")


def test_sim_clock_runs_fast_and_sleeps_fast():
    clock = SimClock(speed=1000)
    t0 = clock.now()
    clock.sleep(5)  # 5 simulated seconds = 5 ms
    assert 4.5 <= clock.now() - t0 < 500
