"""The lab extension in a real browser against a real ``nbwarden demo`` JupyterLab.

One scenario, three people: the analyst runs a masked query and a flagged one; the DPO
approves the flagged cell in the Approvals panel from a second browser context; the
analyst's cell completes with a masked table and its badge names the approver; a second
flagged cell reaches the DPO's open panel through the event stream and is rejected; the
auditor searches executions, runs a DSAR and exports it, verifies the chain, replays
the session and opens the charts. The browser is Debian's Chromium driven by
playwright-core (labextension/ui-tests/lab.mjs); screenshots land in test-artifacts/ui/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.demo.served import served_demo

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LABEXTENSION_SOURCE = REPO / "labextension"
BUILT_EXTENSION = REPO / "nbwarden" / "labextension"
SCRIPT = LABEXTENSION_SOURCE / "ui-tests" / "lab.mjs"
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = Path(os.environ.get("NBW_CHROMIUM", "/usr/bin/chromium"))
SUBJECT_LINE = re.compile(r"DSAR step: the synthetic customer to look up is (\S+)")
START_TIMEOUT_S = 180
BROWSER_TIMEOUT_S = 300


@dataclass
class Demo:
    port: int
    tokens: dict[str, str]
    """role -> token"""
    subject_email: str


def _missing_prerequisite() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (LABEXTENSION_SOURCE / "node_modules" / "playwright-core").exists():
        return "labextension/node_modules is missing (cd labextension && npm ci)"
    if not (BUILT_EXTENSION / "package.json").exists():
        return "the lab extension is not built (cd labextension && npm run build)"
    return None


def _labextensions_dir(root: Path) -> Path:
    """A JUPYTER_PATH entry whose labextensions/nbwarden is this checkout's build."""
    target = root / "labextensions"
    target.mkdir(parents=True)
    (target / "nbwarden").symlink_to(BUILT_EXTENSION, target_is_directory=True)
    return root


def _with_path(env: dict[str, str], name: str, first: Path) -> None:
    env[name] = os.pathsep.join(part for part in (str(first), env.get(name)) if part)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    missing = _missing_prerequisite()
    if missing:
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("ui")
    env = dict(os.environ)
    _with_path(env, "JUPYTER_PATH", _labextensions_dir(root / "jupyter"))
    with served_demo(root / "demo", root, env, START_TIMEOUT_S) as served:
        tokens = {role: token for _, role, token in served.logins()}
        subject = SUBJECT_LINE.search(served.text)
        assert subject is not None, "the demo named no DSAR subject"
        yield Demo(served.port, tokens, subject.group(1))


@pytest.fixture(scope="module")
def seen(demo: Demo) -> dict[str, Any]:
    """Run the browser scenario once; what it observed, as JSON."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    env = dict(os.environ)
    env.update(
        NBW_BASE_URL=f"http://127.0.0.1:{demo.port}/",
        NBW_ANALYST_TOKEN=demo.tokens["analyst"],
        NBW_APPROVER_TOKEN=demo.tokens["approver"],
        NBW_AUDITOR_TOKEN=demo.tokens["auditor"],
        NBW_DSAR_EMAIL=demo.subject_email,
        NBW_ARTIFACTS=str(ARTIFACTS),
        NBW_CHROMIUM=str(CHROMIUM),
    )
    run = subprocess.run(
        ["node", str(SCRIPT)],
        cwd=LABEXTENSION_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
    )
    if run.returncode != 0:
        pytest.fail(f"the browser scenario failed (screenshots in {ARTIFACTS}):\n{run.stderr}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_analyst_sees_masked_results_and_a_pending_badge(seen: dict[str, Any]) -> None:
    assert seen["maskedCellsFirstQuery"] > 0
    assert re.fullmatch(r"masked \d+", seen["firstBadge"])
    assert "UI test of the approval flow" in seen["statusBar"]
    assert "prod" in seen["statusBar"]


def test_approver_approves_the_flagged_cell_in_the_panel(seen: dict[str, Any]) -> None:
    assert int(seen["pendingBadge"]) >= 1
    assert seen["flaggedText"], "the flagged part of the held code was not highlighted"
    assert "support_tickets" in seen["heldFacts"], "the held request does not name its table"
    assert seen["heldBadge"].startswith("approved by dpo")
    assert seen["maskedCellsHeldQuery"] > 0


def test_a_badge_opens_the_provenance_record(seen: dict[str, Any]) -> None:
    record = seen["recordText"]
    assert "StatusokVerdictflag" in record
    assert "Legal basislegitimate_interests" in record
    assert "support_tickets" in record


def test_a_new_request_reaches_the_open_panel_and_is_rejected(seen: dict[str, Any]) -> None:
    assert seen["rejectedBadge"] == "rejected"


def test_panels_follow_roles(seen: dict[str, Any]) -> None:
    assert seen["analystHasApprovals"] is False
    assert seen["approverHasAuditCard"] is False
    assert seen["auditorHasApprovals"] is False


def test_auditor_runs_and_exports_a_dsar(seen: dict[str, Any]) -> None:
    assert seen["executionRows"] >= 2
    assert re.match(r"[1-9]\d* executions? returned", seen["dsarSummary"])
    assert seen["dsarCsvLines"] >= 2
    assert seen["dsarJsonRecords"] >= 1
    assert set(seen["downloads"]) == {"dsar.csv", "dsar.json", "dsar.html"}
    html = (ARTIFACTS / "dsar.html").read_text(encoding="utf-8")
    assert "Subject access report" in html
    assert _has_no_email_address(html), "the report repeats a raw e-mail address"


def _has_no_email_address(html: str) -> bool:
    """The report lists executions and categories; the store holds no raw identifier."""
    return "@" not in re.sub(r"<[^>]+>", "", html)


def test_auditor_verifies_replays_and_charts(seen: dict[str, Any]) -> None:
    assert seen["verify"].startswith("Intact")
    assert seen["replayCells"] >= 2
    assert seen["replayOutputs"] >= 1
    assert seen["chartBars"] >= 1


def test_screenshots_of_each_panel(seen: dict[str, Any]) -> None:
    names = {Path(path).stem for path in seen["screenshots"]}
    assert {
        "notebook-pending",
        "approvals-panel",
        "notebook-badges",
        "audit-executions",
        "audit-dsar",
        "audit-verify",
        "audit-replay",
        "audit-charts",
        "provenance-record",
    } <= names
    assert all(Path(path).stat().st_size > 10_000 for path in seen["screenshots"])
