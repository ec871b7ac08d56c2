"""The interactive timeline in a real browser: Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver (built from the same source as the browser, so their versions always match; nothing is downloaded at
run time). What the page draws and shows is checked against the trace it was made from: the message arrows and
leader bands on the screen, where stepping goes, the state a click on a server shows, a message's fields, the
filters, zoom and pan, the violation one click away.

Without Chromium (or Selenium) these tests are skipped, saying why; in CI (``CI`` set, as ``.ci/run`` runs) a
missing browser is a failure instead: ``make test`` installs it (``.ci/install-browser``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main as raftsim
from sim.trace import read_jsonl, rebuild_logs

ROOT = Path(__file__).resolve().parents[1]
ROLE_TEXT = {"precandidate": "pre-candidate"}


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "Selenium is not installed (pip install -e '.[test]')"
    for name in ("chromium", "chromedriver"):
        if shutil.which(name) is None:
            return (
                f"{name} is not installed: the browser tests need Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver; make test installs them when run as root)"
            )
    return None


@pytest.fixture(scope="module")
def chromium() -> None:
    """Skips the test when the browser is missing, saying why; fails it in CI, which must have it."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the browser tests, but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(chromium: None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--force-device-scale-factor=1",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: a page that needed the network would show it
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or ""), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _page(tmp: Path, name: str, argv: list[str]) -> tuple[Path, list[dict[str, Any]], dict[str, Any]]:
    """A page made by the command line, its trace's records, and the tables inside the page."""
    trace = tmp / f"{name}.jsonl"
    page = tmp / f"{name}.html"
    raftsim([*argv, "--trace", str(trace), "--html", str(page), *(["--quiet"] if argv[0] == "run" else [])])
    data = page.read_text(encoding="utf-8").split('<script type="application/json" id="raftsim-data">')[1]
    return page, read_jsonl(trace), json.loads(data.split("</script>")[0])


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]], dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("pages")
    s = ROOT / "scenarios"
    return {
        "crash": _page(tmp, "crash", ["run", str(s / "leader-crash.toml")]),
        "stale-read": _page(tmp, "stale-read", ["run", str(s / "bug-follower-read.toml")]),
        "term-bug": _page(tmp, "term-bug", ["replay", "3", "--bug", "volatile-term"]),
    }


def _open(browser: Any, page: Path, fragment: str = "") -> None:
    browser.get(page.as_uri() + fragment)
    assert browser.execute_script("return typeof window.raftsim") == "object"


def _js(browser: Any, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


def _click_at(browser: Any, x: float, y: float) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(round(x), round(y))
    actions.pointer_action.click()
    actions.perform()


def _leader_bands(records: list[dict[str, Any]]) -> int:
    return len({(d["node"], d["term"]) for d in records if d["ev"] == "state" and d["role"] == "leader"})


def test_what_is_drawn_is_what_the_trace_says(browser: Any, pages: Any) -> None:
    page, records, _ = pages["crash"]
    _open(browser, page)
    counts = _js(browser, "return raftsim.counts")
    frame = _js(browser, "return raftsim.fit() && raftsim.frame()")
    kinds = [d["ev"] for d in records]
    arrows = kinds.count("send") + kinds.count("duplicate")
    assert counts["arrows"] == frame["arrows"] == arrows > 1000  # the whole run: every message an arrow
    assert not frame["dense"]
    assert counts["leaderBands"] == frame["leaderBands"] == _leader_bands(records) == 3
    assert counts["dropped"] == kinds.count("drop")
    assert counts["duplicates"] == kinds.count("duplicate")
    assert frame["ops"] == kinds.count("invoke")
    assert frame["crashes"] == kinds.count("crash")
    assert counts["events"] == len(records)


def test_a_busy_window_turns_to_density_and_a_narrow_one_to_each_arrow(browser: Any, pages: Any) -> None:
    page, _, tables = pages["crash"]
    _open(browser, page)
    assert _js(browser, "return raftsim.fit() && raftsim.frame().dense") is False
    assert _js(browser, "return raftsim.model.counts.arrows") < 5000  # the page's own limit: as if it were lower
    frame = _js(browser, "return raftsim.setMaxArrows(1000) && raftsim.frame()")
    c = tables["copies"]
    assert frame["dense"] and frame["arrows"] == 0 and frame["messagesInView"] == len(c["flight"]) > 1000
    # A 200 ms window: the arrows drawn are exactly the copies in flight at some moment of it.
    ts, acc = [], 0
    for d in c["ts_dt"]:
        acc += d
        ts.append(acc)
    for t0 in (1_000_000, 2_050_000, 4_800_000):
        t1 = t0 + 200_000
        frame = _js(browser, "return raftsim.setWindow(arguments[0], arguments[1]) && raftsim.frame()", t0, t1)
        expected = sum(1 for s, f in zip(ts, c["flight"], strict=True) if s <= t1 and s + f >= t0)
        assert not frame["dense"] and frame["arrows"] == expected > 20


def test_stepping_moves_to_the_next_event(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    page, records, _ = pages["crash"]
    _open(browser, page)
    start = next(p for p, d in enumerate(records) if d["t"] >= 1_000_000)
    _js(browser, "raftsim.goTo(arguments[0])", start)
    nxt = browser.find_element(By.ID, "next")
    for p in range(start + 1, start + 16):
        nxt.click()
        assert _js(browser, "return raftsim.view().cursor") == p
        text = browser.find_element(By.ID, "event-text").text
        d = records[p]
        kind = d["ev"]
        if "msg" in d:
            m = d["msg"]
            assert f"{m['type']} {m['src']}\u2192{m['dst']}" in text, (d, text)
        elif kind == "state":
            assert f"becomes {ROLE_TEXT.get(d['role'], d['role'])} in term {d['term']}" in text
        elif kind == "commit":
            assert f"commits up to index {d['index']}" in text
        elif kind == "apply":
            assert f"applies entry {d['index']}" in text
        elif kind == "vote":
            assert f"votes for {d['candidate']} in term {d['term']}" in text
        elif kind in ("invoke", "complete", "request", "ack"):
            assert f"#{d['seq']}" in text
        assert browser.find_element(By.ID, "event").text.startswith(f"event {p:,} of")
    browser.find_element(By.ID, "prev").click()
    assert _js(browser, "return raftsim.view().cursor") == start + 14
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    assert _js(browser, "return raftsim.view().cursor") == start + 15
    # Stepping by roles, terms, votes and crashes stops only there.
    Select(browser.find_element(By.ID, "step-by")).select_by_value("state")
    p = start + 15
    for _ in range(4):
        nxt.click()
        p = next(q for q in range(p + 1, len(records)) if records[q]["ev"] in ("boot", "crash", "state", "vote"))
        assert _js(browser, "return raftsim.view().cursor") == p
    Select(browser.find_element(By.ID, "step-by")).select_by_value("any")


def _expected_state(records: list[dict[str, Any]], p: int, node: int) -> dict[str, Any]:
    """A server's state after record p, worked out from the trace by hand (see scenarios/TRACE.md)."""
    mine = [d for d in records[: p + 1] if d.get("node") == node]
    boots = [i for i, d in enumerate(mine) if d["ev"] == "boot"]
    crashes = [i for i, d in enumerate(mine) if d["ev"] == "crash"]
    since = mine[boots[-1] :]
    alive = not crashes or crashes[-1] < boots[-1]
    states = [d for d in since if d["ev"] == "state"]
    term = states[-1]["term"] if states else mine[boots[-1]]["term"]
    role = (states[-1]["role"] if states else "follower") if alive else "down"
    commits = [d["index"] for d in since if d["ev"] == "commit"]
    applies = [d["index"] for d in since if d["ev"] == "apply"]
    return {
        "role": role,
        "term": term,
        "commit": (commits[-1] if commits else 0) if alive else None,
        "applied": (applies[-1] if applies else 0) if alive else None,
        "log": [list(e) for e in rebuild_logs(records[: p + 1]).get(node, [])],
    }


@pytest.mark.parametrize(("node", "at_us"), [(2, 2_500_000), (4, 4_600_000), (3, 1_300_000)])
def test_clicking_a_server_shows_the_state_the_trace_says_it_had(
    browser: Any, pages: Any, node: int, at_us: int
) -> None:
    from selenium.webdriver.common.by import By

    page, records, tables = pages["crash"]
    _open(browser, page)
    row = tables["servers"].index(node)
    _js(browser, "raftsim.setWindow(arguments[0], arguments[1])", at_us - 40_000, at_us + 40_000)
    point = _js(browser, "return raftsim.pointFor(arguments[0], arguments[1])", row, at_us)
    _click_at(browser, point["x"], point["y"])
    shown = _js(browser, "return raftsim.selectedState()")
    assert shown is not None and shown["server"] == node
    p = shown["pos"]
    pixel = 80_000 / 1200 * 2  # microseconds in two pixels of this window
    assert records[p]["t"] <= at_us + pixel and (p + 1 == len(records) or records[p + 1]["t"] > at_us - pixel)
    expected = _expected_state(records, p, node)
    assert {k: shown[k] for k in expected} == expected
    assert len(expected["log"]) > 10
    panel = browser.find_element(By.ID, "server-state").text
    assert f"server {node} after event {p:,}" in panel
    assert f"{len(expected['log']):,} entries, last term {expected['log'][-1][0]}" in panel
    last = expected["log"][-1]
    assert f"{len(expected['log'])}  t{last[0]}  " + ("no-op" if last[1] is None else f"{last[1]}.{last[2]}") in panel


@pytest.mark.parametrize("name", ["crash", "term-bug", "stale-read"])
def test_the_pages_model_agrees_with_the_trace_at_every_sampled_event(browser: Any, pages: Any, name: str) -> None:
    """The model's state of every server after event p (what a click shows), against a plain replay of the
    trace's records, at a spread of events: a run with a crash, a restart and a partition; a server restarting
    in an older term (the volatile-term bug); leaders cut off twice."""
    page, records, tables = pages[name]
    _open(browser, page)
    sample = set(range(0, len(records), max(1, len(records) // 120))) | {len(records) - 1}
    expected: dict[int, list[dict[str, Any]]] = {}
    state = {
        n: {"role": "not started", "term": 0, "vote": None, "commit": None, "applied": None, "log": []}
        for n in tables["servers"]
    }
    for p, d in enumerate(records):
        n = d.get("node")
        if n in state:
            s = state[n]
            kind = d["ev"]
            if kind == "boot":
                s.update(role="follower", term=d["term"], commit=0, applied=0)
            elif kind == "crash":
                s.update(role="down", commit=None, applied=None)
            elif kind == "state":
                s.update(role=d["role"], term=d["term"])
                if d["role"] == "candidate":
                    s["vote"] = (d["term"], n)
            elif kind == "vote":
                s["vote"] = (d["term"], d["candidate"])
            elif kind == "commit":
                s["commit"] = d["index"]
            elif kind == "apply":
                s["applied"] = d["index"]
            elif kind == "append":
                del s["log"][d["index"] - 1 :]
                s["log"].extend(d["entries"])
        if p in sample:
            expected[p] = [
                {
                    "role": s["role"],
                    "term": s["term"],
                    "votedFor": s["vote"][1] if s["vote"] and s["vote"][0] == s["term"] else None,
                    "commit": s["commit"],
                    "applied": s["applied"],
                    "log": [list(e) for e in s["log"]],
                }
                for s in (state[n] for n in tables["servers"])
            ]
    shown = _js(
        browser,
        """const M = raftsim.model; const out = {};
        for (const p of arguments[0]) out[p] = M.servers.map((_, r) => {
          const s = M.serverState(r, p); const log = [];
          for (let k = 0; k < s.log.length; k++) log.push(s.log.entry(k));
          return {role: s.role, term: s.term, votedFor: s.votedFor, commit: s.commit, applied: s.applied, log};
        });
        return out;""",
        sorted(sample),
    )
    assert len(shown) == len(sample) > 40
    for p in sorted(sample):
        assert shown[str(p)] == expected[p], (p, records[p])


def test_clicking_a_message_shows_its_fields(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By

    page, records, tables = pages["crash"]
    _open(browser, page)
    c = tables["copies"]
    ae = next(i for i, t in enumerate(tables["types"]) if t["name"] == "AppendEntries")
    ts, acc = [], 0
    for d in c["ts_dt"]:
        acc += d
        ts.append(acc)
    i = next(
        i
        for i in range(len(ts))
        if c["type"][i] == ae
        and ts[i] > 1_500_000
        and len(records[c["ps"][i]]["msg"]["entries"]) >= 2
        and tables["outcomes"][c["outcome"][i]] == "delivered"
        and c["flight"][i] > 8_000
    )
    t0, t1 = ts[i], ts[i] + c["flight"][i]
    span = t1 - t0
    _js(browser, "raftsim.setWindow(arguments[0], arguments[1])", t0 - span, t1 + span)
    a = _js(browser, "return raftsim.pointFor(arguments[0], arguments[1])", c["src"][i], t0)
    b = _js(browser, "return raftsim.pointFor(arguments[0], arguments[1])", c["dst"][i], t1)
    # Halfway between the sender's row and the next one towards the receiver: on the arrow, off every band.
    f = 20 / abs(b["y"] - a["y"])
    _click_at(browser, a["x"] + f * (b["x"] - a["x"]), a["y"] + f * (b["y"] - a["y"]))
    assert _js(browser, "return raftsim.view().selected.copy") == i
    m = records[c["ps"][i]]["msg"]
    panel = browser.find_element(By.ID, "message").text
    assert panel.startswith(f"AppendEntries {m['src']} \u2192 {m['dst']}")
    for field in ("term", "prev_index", "prev_term", "commit"):
        assert f"{field} {m[field]}" in panel
    assert f"entries ({len(m['entries'])})" in panel
    for k, (term, client, seq) in enumerate(m["entries"]):
        assert f"{m['prev_index'] + 1 + k}  t{term}  {'no-op' if client is None else f'{client}.{seq}'}" in panel
    shown = _js(browser, "return raftsim.model.message(arguments[0]).fields.entries", i)
    assert shown == m["entries"]


def test_clicking_an_operation_shows_it(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By

    page, _, tables = pages["crash"]
    _open(browser, page)
    ops = tables["ops"]
    i = next(i for i in range(len(ops["seq"])) if ops["f"][i] == "put" and ops["tc"][i] - ops["ti"][i] > 20_000)
    a, b = ops["ti"][i], ops["tc"][i]
    _js(browser, "raftsim.setWindow(arguments[0], arguments[1])", a - (b - a), b + (b - a))
    lane = len(tables["servers"]) + ops["client"][i]
    point = _js(browser, "return raftsim.pointFor(arguments[0], arguments[1])", lane, (a + b) / 2)
    _click_at(browser, point["x"], point["y"])
    assert _js(browser, "return raftsim.view().selected.op") == i
    text = browser.find_element(By.ID, "operation").text
    client = tables["clients"][ops["client"][i]]
    assert text.startswith(f'{client} #{ops["seq"][i]}: put {ops["key"][i]} "{ops["value"][i]}"')
    assert f"invoked {a / 1000:.3f} ms" in text and f"completed {b / 1000:.3f} ms" in text


def test_filters_by_message_kind_and_server(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By

    page, _, tables = pages["crash"]
    _open(browser, page)
    c = tables["copies"]
    types = [t["name"] for t in tables["types"]]
    n_field = {k: t["fields"].index("n") for k, t in enumerate(tables["types"]) if "n" in t["fields"]}
    kind = [
        "heartbeat" if types[ty] == "AppendEntries" and c["fields"][i][n_field[ty]] == 0 else types[ty]
        for i, ty in enumerate(c["type"])
    ]
    total = _js(browser, "return raftsim.fit() && raftsim.frame().arrows")
    for name in ("AppendEntries", "heartbeat"):
        browser.find_element(By.CSS_SELECTOR, f'input[data-kind="{name}"]').click()
    frame = _js(browser, "return raftsim.renderNow()")
    assert frame["arrows"] == total - sum(1 for k in kind if k in ("AppendEntries", "heartbeat"))
    rows = range(len(tables["servers"]))
    for r in rows:
        if tables["servers"][r] != 2:
            browser.find_element(By.CSS_SELECTOR, f'input[data-server="{tables["servers"][r]}"]').click()
    two = tables["servers"].index(2)
    frame = _js(browser, "return raftsim.renderNow()")
    assert frame["arrows"] == sum(
        1 for i, k in enumerate(kind) if k not in ("AppendEntries", "heartbeat") and two in (c["src"][i], c["dst"][i])
    )


def test_zoom_and_pan(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By

    page, _, _ = pages["crash"]
    _open(browser, page)
    canvas = browser.find_element(By.ID, "timeline")
    before = _js(browser, "return raftsim.view()")
    browser.find_element(By.ID, "zoom-in").click()
    browser.find_element(By.ID, "zoom-in").click()
    zoomed = _js(browser, "return raftsim.view()")
    assert zoomed["t1"] - zoomed["t0"] == pytest.approx((before["t1"] - before["t0"]) / 4)
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -300).perform()
    wheeled = _js(browser, "return raftsim.view()")
    assert wheeled["t1"] - wheeled["t0"] < zoomed["t1"] - zoomed["t0"]
    ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(-300, 0).release().perform()
    panned = _js(browser, "return raftsim.view()")
    assert panned["t1"] - panned["t0"] == pytest.approx(wheeled["t1"] - wheeled["t0"])
    assert panned["t0"] > wheeled["t0"]
    assert _js(browser, "return raftsim.view().selected.copy") == -1  # a drag is not a click
    browser.find_element(By.ID, "fit").click()
    assert _js(browser, "return raftsim.view()")["t0"] == before["t0"]


def test_a_linearizability_violation_is_one_click_away(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By

    page, _, tables = pages["stale-read"]
    _open(browser, page)
    lin = tables["lin"]
    browser.find_element(By.ID, "violation").click()
    view = _js(browser, "return raftsim.view()")
    ops = tables["ops"]
    for i in lin["stuck"]:
        assert view["t0"] <= ops["ti"][i] <= view["t1"]
    assert view["selected"]["op"] == lin["blocking"]
    assert browser.find_element(By.ID, "lin-focus").is_selected()
    section = browser.find_element(By.ID, "lin")
    assert f"not linearizable at key {lin['key']}" in section.text
    assert f"longest linearizable prefix: {len(lin['prefix'])} operations" in section.text
    assert len(section.find_elements(By.CSS_SELECTOR, "ul.ops li")) == len(lin["stuck"])
    assert len(section.find_elements(By.CSS_SELECTOR, "ol.ops li")) == min(20, len(lin["prefix"]))
    assert "must take effect by its completion" in browser.find_element(By.ID, "operation").text


def test_a_safety_violation_is_one_click_away(browser: Any, pages: Any) -> None:
    from selenium.webdriver.common.by import By

    page, records, _ = pages["term-bug"]
    _open(browser, page)
    browser.find_element(By.ID, "violation").click()
    p = next(p for p, d in enumerate(records) if d["ev"] == "violation")
    view = _js(browser, "return raftsim.view()")
    assert view["cursor"] == p and view["t0"] <= records[p]["t"] <= view["t1"]
    assert view["selected"]["server"] == records[p]["nodes"][0] - 1
    assert "violation of TermMonotonic" in browser.find_element(By.ID, "event-text").text


def test_the_page_works_offline_from_disk(browser: Any, pages: Any) -> None:
    for name in ("crash", "stale-read"):
        page, _, _ = pages[name]
        _open(browser, page)
        assert _js(browser, "return performance.getEntriesByType('resource').length") == 0
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors


def test_bench_html_prints_what_the_page_measured(chromium: None, capsys: pytest.CaptureFixture[str]) -> None:
    """``raftsim bench --html`` opens its pages with the browser's own command line (no driver): a short run."""
    assert raftsim(["bench", "--html", "--html-durations", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("html timeline of the default scenario")
    assert out[1].startswith("  2 s: ") and "first frame" in out[1]
    assert out[2].startswith("        pan: 2 s window ") and "100 ms window" in out[2]
    assert out[3].startswith("        step: ")
