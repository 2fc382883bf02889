"""The notebooks, executed top to bottom against the simulator, and checked for what they made.

Each run works on a copy of ``notebooks/`` in a temporary folder (the kernel's working
folder), so the files a notebook writes (``out/…``) never land in the repository. The kernel
gets an environment without ``MOBSET_*`` variables (a developer's real credentials must not
turn a test into a live send) and with a keyring that fails, unless a test sets its own.

Each notebook runs in Chinese and in English (the kernel's ``MOBSET_LANG``): the checks that
read the package's words run in English; both runs check what does not depend on the language
(files, states, charts, no secrets), and the Chinese run checks the package's words against
its own catalog (:func:`_words`), so it tightens by itself as messages are translated. The
lines the notebooks' own code writes (``say("中文", "English")``) are checked in both runs:
each in the kernel's language, never in the other (:func:`_assert_said`).

The two languages of a notebook run at the same time (:data:`PARALLEL_RUNS` kernels): most of
a run is waiting for the simulator's reports, so the pair takes little longer than one run.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import openpyxl
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mobset_campaign import using_language
from mobset_campaign._i18n import gettext
from mobset_campaign.export import DETAILS_SHEET, REPLIES_SHEET, SUMMARY_SHEET
from mobset_campaign.ledger import Ledger
from mobset_campaign.simulator import Account, Simulator
from mobset_campaign.workbook import field_name, read_campaign_workbook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_quickstart.ipynb", "02_campaign_analysis.ipynb", "03_going_live.ipynb")
#: The languages every notebook runs in, as the kernel's MOBSET_LANG.
LANGUAGES = ("zh", "en")
#: Notebooks executing at once: a notebook's other language starts with it.
PARALLEL_RUNS = 2
CELL_TIMEOUT = 120
PASSWORD = Account().password  # the simulator's default account
HEX32 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32}(?![0-9A-Fa-f])")
STATUS_COLUMNS = {"send_state", "status", "status_text", "ex_status", "sent_time", "report_time"}
WIDGET = "application/vnd.jupyter.widget-view+json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ACCEPTED_OR_SKIPPED = {"delivered", "failed", "sent", "skipped", "unknown", "rejected"}


# ------------------------------------------------------------------------------ running


def _kernel_env(lang: str = "en", **extra: str) -> dict[str, str]:
    """The kernel's environment: no MOBSET_* but MOBSET_LANG=lang (never the machine's
    locale), a failing keyring, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["MOBSET_LANG"] = lang
    env.update(extra)
    return env


def _copy_notebooks(folder: Path) -> Path:
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("out", ".ipynb_checkpoints"))
    return folder


def _execute(name: str, folder: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run ``folder/name`` top to bottom; raises CellExecutionError at the first error. Safe
    in a worker thread: the event loop is this call's own, closed when it returns."""
    nb = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    asyncio.run(client.async_execute(env=env))
    return nb


class Run:
    """An executed notebook and the folder it ran in."""

    def __init__(self, nb: nbformat.NotebookNode, folder: Path) -> None:
        self.nb = nb
        self.folder = folder
        self.out = folder / "out"

    def outputs(self) -> Iterator[dict[str, Any]]:
        for cell in self.nb.cells:
            if cell.cell_type == "code":
                yield from cell.outputs

    def texts(self) -> Iterator[str]:
        """Every text a reader sees: streams, tracebacks, text/HTML/Markdown/JSON data."""
        for out in self.outputs():
            if out["output_type"] == "stream":
                yield out["text"]
            elif out["output_type"] == "error":
                yield "\n".join([out["ename"], out["evalue"], *out["traceback"]])
            else:
                for mime, value in out.get("data", {}).items():
                    if mime.startswith("image/") or mime == WIDGET:
                        continue  # base64 pixels; widget model ids are random hex
                    yield value if isinstance(value, str) else str(value)

    def stdout(self) -> str:
        return "".join(
            o["text"]
            for o in self.outputs()
            if o["output_type"] == "stream" and o["name"] == "stdout"
        )

    def html(self) -> str:
        return "\n".join(o.get("data", {}).get("text/html", "") for o in self.outputs())

    def pngs(self) -> list[bytes]:
        return [
            base64.b64decode(o["data"]["image/png"])
            for o in self.outputs()
            if "image/png" in o.get("data", {})
        ]


@pytest.fixture(scope="module")
def repo_files() -> set[Path]:
    """The files under notebooks/ before any notebook ran."""
    return {p for p in NOTEBOOKS.rglob("*")}


@pytest.fixture(scope="module")
def runner(
    tmp_path_factory: pytest.TempPathFactory, repo_files: set[Path]
) -> Iterator[Callable[..., Run]]:
    """run(name, lang="en", key=..., folder=None, **env) executes once per key (by default
    the name and the language) and caches the Run. Asked for a notebook in one language, it
    starts the notebook's other language too (in the background, in a folder of its own), for
    the parametrized test that asks for it next."""
    runs: dict[str, Future[Run]] = {}

    def start(name: str, lang: str, key: str, folder: Path | None, env: dict[str, str]) -> None:
        if key in runs:
            return
        if folder is None:
            folder = _copy_notebooks(tmp_path_factory.mktemp("nb") / "notebooks")
        kernel_env = _kernel_env(lang, **env)  # now, in the test's environment
        runs[key] = pool.submit(lambda: Run(_execute(name, folder, kernel_env), folder))

    def run(
        name: str,
        *,
        lang: str = "en",
        key: str | None = None,
        folder: Path | None = None,
        **env: str,
    ) -> Run:
        plain = key is None and folder is None and not env
        key = key or f"{name}[{lang}]"
        start(name, lang, key, folder, env)
        if plain:  # the notebook as it is: its other language starts alongside
            for other in LANGUAGES:
                start(name, other, f"{name}[{other}]", None, {})
        return runs[key].result()

    with ThreadPoolExecutor(PARALLEL_RUNS, thread_name_prefix="notebook") as pool:
        yield run
        for future in runs.values():
            future.cancel()  # a run no selected test asked for


def _assert_clean(run: Run) -> None:
    """No error, no stderr noise, no secret in anything a reader sees."""
    for out in run.outputs():
        assert out["output_type"] != "error", out
        assert not (out["output_type"] == "stream" and out["name"] == "stderr"), out["text"]
    for text in run.texts():
        assert PASSWORD not in text
        assert not HEX32.search(text), f"a SecretKey-like value in an output: {text[:300]}"
    assert PASSWORD not in nbformat.writes(run.nb)  # nor anywhere in the saved notebook


def _words(lang: str, message: str) -> str:
    """The package's words for ``message`` in ``lang``, from its own catalog (the English
    itself while it is not translated)."""
    with using_language(lang):
        return gettext(message)


def _assert_language(
    run: Run, lang: str, shown: tuple[str, ...] = (), replaced: tuple[str, ...] = ()
) -> None:
    """The kernel spoke ``lang``: the first cell printed it, each of the package's messages
    ``shown`` and ``replaced`` shows in the catalog's words for ``lang``, and once a message
    of ``replaced`` is translated its English shows nowhere (they are phrases that no other
    output contains)."""
    assert f"· 语言 language: {lang}\n" in run.stdout()
    text = "\n".join(run.texts())
    for message in (*shown, *replaced):
        words = _words(lang, message)
        assert words in text, f"{message!r} is not shown as {words!r}"
    for message in replaced:
        if _words(lang, message) != message:
            assert message not in text, f"{message!r} is still shown in English"


def _assert_said(run: Run | str, lang: str, zh: str, en: str) -> None:
    """A line the notebook's own code writes with ``say(zh, en)``: shown in the kernel's
    language, and the other language's line shown nowhere (in ``run``'s outputs or a text)."""
    text = run if isinstance(run, str) else "\n".join(run.texts())
    shown, other = (zh, en) if lang == "zh" else (en, zh)
    assert shown in text, f"{shown!r} is not shown"
    assert other not in text, f"{other!r} is shown in a {lang} run"


def _assert_workbook(path: Path, rows: int) -> pd.DataFrame:
    """The campaign workbook: three sheets, status columns under their bilingual headers
    (whatever the language of messages), phones as text; returns Details."""
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == [SUMMARY_SHEET, DETAILS_SHEET, REPLIES_SHEET]
    sheet = book[DETAILS_SHEET]
    labels = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "发送状态 send_state" in labels, labels
    header = [field_name(label) for label in labels]
    assert set(header) >= STATUS_COLUMNS, header
    phone_at = header.index("phone")
    phones = [row[phone_at] for row in sheet.iter_rows(min_row=2, values_only=True)]
    book.close()
    assert len(phones) == rows
    assert all(isinstance(p, str) and len(p) == 11 for p in phones if p is not None)
    details = read_campaign_workbook(path).details
    assert set(details["send_state"].dropna()) <= ACCEPTED_OR_SKIPPED
    return details


def _native_charts(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(name.startswith("xl/charts/chart") for name in archive.namelist())


# ------------------------------------------------------------------------------ 01


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_quickstart_runs_a_whole_campaign_to_a_workbook(
    runner: Callable[..., Run], lang: str
) -> None:
    run = runner("01_quickstart.ipynb", lang=lang)
    _assert_clean(run)
    # the estimate's title; a phone problem of the sample list (empty cell)
    _assert_language(run, lang, shown=("empty",), replaced=("Campaign estimate",))

    details = _assert_workbook(run.out / "quickstart_campaign.xlsx", rows=40)
    states = details["send_state"].value_counts()
    assert states["skipped"] == 5  # the sample's five broken rows, never sent
    assert states["delivered"] >= 25
    assert _native_charts(run.out / "quickstart_campaign.xlsx") == 4  # charts=True

    # the four charts, drawn in the notebook and saved
    assert len(run.pngs()) == 4 and all(p.startswith(PNG_MAGIC) for p in run.pngs())
    saved = sorted(p.name for p in (run.out / "quickstart_charts").glob("*.png"))
    assert saved == ["delivery_time.png", "funnel.png", "replies.png", "status.png"]

    # the rich views show as HTML, the problems and the repairs as tables
    html = run.html()
    assert "【广州首易】" in html  # Preview
    assert "１８６２０３３５５６２" in html and "13922884417" in html  # repaired numbers
    if lang == "en":  # the package's words (the Chinese run checks them against the catalog)
        assert "Campaign estimate" in html and "enough" in html  # Estimate against the balance
        assert "not sent: digits lost in the spreadsheet" in html  # Preview
        assert "Dry run for campaign" in html and "nothing to send" in html  # SendSummary
        assert "Collected" in html  # CollectSummary
    # the notebook's own lines
    _assert_said(
        run, lang, "从 sample_contacts.csv 读入 40 行", "40 rows read from sample_contacts.csv"
    )
    _assert_said(run, lang, "模拟器地址 http://127.0.0.1:", "Simulator at http://127.0.0.1:")
    _assert_said(
        run, lang, "已写入 out/quickstart_campaign.xlsx", "wrote out/quickstart_campaign.xlsx"
    )
    _assert_said(
        run,
        lang,
        "已写入 out/quickstart_charts/funnel.png",
        "wrote out/quickstart_charts/funnel.png",
    )

    with Ledger(run.out / "quickstart_ledger.sqlite") as ledger:
        counts = ledger.campaigns().set_index("name").loc["quickstart-积分到期提醒"]
    assert counts["messages"] == 35 and counts["pending"] == counts["claimed"] == 0


# ------------------------------------------------------------------------------ 02


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_analysis_creates_a_campaign_when_missing_and_lists_numbers_to_follow_up(
    runner: Callable[..., Run], lang: str
) -> None:
    run = runner("02_campaign_analysis.ipynb", lang=lang)
    _assert_clean(run)
    _assert_language(run, lang)
    _assert_said(
        run,
        lang,
        "还没有活动文件：先在内置模拟器上演练一个活动来生成它们",
        "No campaign files yet: rehearsing one on the embedded simulator to create them",
    )
    _assert_said(
        run,
        lang,
        "已写入 out/analysis_ledger.sqlite 和 out/analysis_campaign.xlsx。",
        "Wrote out/analysis_ledger.sqlite and out/analysis_campaign.xlsx.",
    )
    _assert_said(run, lang, "details：240 行 × ", "details: 240 rows × ")
    _assert_said(
        run, lang, "240 行；报表写出之后，有 0 行的状态变了。", "240 rows; 0 changed state since"
    )
    _assert_said(run, lang, " 条上行回复（占网关已受理短信的 ", " of the accepted messages); ")
    _assert_said(run, lang, "已写入 out/analysis_followup.csv", "wrote out/analysis_followup.csv")
    _assert_workbook(run.out / "analysis_campaign.xlsx", rows=240)
    assert len(run.pngs()) == 4
    html = run.html()
    assert "p90" in html  # the delay table
    # the tables' labels: the funnel's steps and columns, the delays' and the groups' columns
    for zh, en in [
        (">网关已受理</th>", ">accepted</th>"),
        (">占上一步</th>", ">of previous step</th>"),
        (">中位数</th>", ">median</th>"),
        (">送达率</th>", ">delivery rate</th>"),
    ]:
        _assert_said(run, lang, zh, en)

    followup = pd.read_csv(run.out / "analysis_followup.csv", dtype={"phone": "str"})
    assert {"next_step", "row", "phone", "send_state", "reason"} <= set(followup.columns)
    steps = set(followup["next_step"])
    # the rehearsal's lost answer, its broken rows and 空号, and the carriers' failures
    assert {"check first", "clean", "retry"} <= steps
    assert steps <= {"retry", "fix the text", "check first", "wait", "clean", "never text"}
    assert followup.loc[followup["next_step"] == "check first", "send_state"].tolist() == [
        "unknown"
    ]
    assert followup["phone"].dropna().str.fullmatch(r"1\d{10}").all()
    assert "delivered" not in set(followup.loc[followup["next_step"] != "never text", "send_state"])
    book = openpyxl.load_workbook(run.out / "analysis_followup.xlsx")
    assert book[DETAILS_SHEET].max_row == len(followup) + 1


@pytest.mark.slow
def test_analysis_reopens_the_existing_files(runner: Callable[..., Run]) -> None:
    first = runner("02_campaign_analysis.ipynb")
    again = runner("02_campaign_analysis.ipynb", key="02-again", folder=first.folder)
    _assert_clean(again)
    assert "Using out/analysis_ledger.sqlite and out/analysis_campaign.xlsx." in again.stdout()
    assert "0 changed state since the workbook was written" in again.stdout()
    assert "rehearsing" not in again.stdout()
    assert len(again.pngs()) == 4


# ------------------------------------------------------------------------------ 03


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_going_live_without_credentials_rehearses_every_step(
    runner: Callable[..., Run], lang: str
) -> None:
    run = runner("03_going_live.ipynb", lang=lang)
    _assert_clean(run)
    _assert_language(run, lang, replaced=("Campaign estimate",))
    html = run.html()
    _assert_said(run, lang, "⚠ 演练模式。", "⚠ REHEARSAL.")
    _assert_said(run, lang, "没有找到账号凭据", "No credentials were found")
    assert html.count("✅") == 4 and "❌" not in html  # signature, balance, clock, window
    # the checks table says whether the balance is enough and leaves the numbers to the
    # estimate under it (it used to repeat the estimate's balance sentence)
    (checks,) = [
        o["data"]["text/html"]
        for o in run.outputs()
        if "✅" in o.get("data", {}).get("text/html", "")
    ]
    assert "1,000,000" not in checks
    said = [
        (
            "签名",
            "signature",
            "每条短信都会加上【广州首易】",
            "【广州首易】 is added to every message",
        ),
        ("余额", "balance", "足够：计费条数和费用见下面的预估", "enough: see the estimate below"),
        ("时钟", "clock", "（相差超过 20 分钟网关就会拒绝请求）", "(the gateway refuses beyond"),
        (
            "发送时段",
            "sending window",
            "演练时不限制（现在是北京时间",
            "not enforced in a rehearsal",
        ),
    ]
    for zh_name, en_name, zh, en in said:
        _assert_said(checks, lang, f">{zh_name}</th>", f">{en_name}</th>")
        _assert_said(checks, lang, zh, en)
    _assert_said(
        run,
        lang,
        "即将发送活动“2026-12 积分到期提醒”",
        "About to send campaign '2026-12 积分到期提醒'",
    )
    _assert_said(run, lang, "已确认（演练）。", "Confirmed. (rehearsal)")
    _assert_said(
        run, lang, "已写入 out/rehearsal_campaign.xlsx", "wrote out/rehearsal_campaign.xlsx"
    )
    _assert_workbook(run.out / "rehearsal_campaign.xlsx", rows=40)
    assert len(list((run.out / "rehearsal_campaign_charts").glob("*.png"))) == 4
    with Ledger(run.out / "rehearsal_ledger.sqlite") as ledger:
        campaigns = ledger.campaigns().set_index("name")["messages"].to_dict()
    assert campaigns == {"2026-12 积分到期提醒 · test": 2, "2026-12 积分到期提醒": 35}
    assert not (run.out / "live_ledger.sqlite").exists()


KEYRING_BACKEND = '''
import os
from keyring.backend import KeyringBackend
from keyring.errors import PasswordSetError


class NotebookTestKeyring(KeyringBackend):
    """Holds one password, given in the environment: a stand-in for the system keyring."""

    priority = 1

    def get_password(self, service, username):
        if service == "mobset_campaign" and username == os.environ["NBTEST_KEYRING_USER"]:
            return os.environ["NBTEST_KEYRING_SECRET"]
        return None

    def set_password(self, service, username, password):
        raise PasswordSetError("read-only test keyring")

    def delete_password(self, service, username):
        raise PasswordSetError("read-only test keyring")
'''


@pytest.mark.slow
def test_going_live_reads_the_keyring_and_sends_through_the_configured_gateway(
    runner: Callable[..., Run], tmp_path: Path
) -> None:
    """Credentials from the environment + keyring, pointed at a simulator of this process:
    the notebook uses them, never shows the password, and every message goes there."""
    outcomes = {(12, "DELIVRD"): 0.9, (13, "UNDELIV"): 0.1}  # every message gets a report
    with Simulator(seed=9, report_delay=(0.1, 0.5), outcomes=outcomes, reply_rate=0.0) as sim:
        env = {k: v for k, v in sim.env().items() if k != "MOBSET_PASSWORD"}
        if importlib.util.find_spec("keyring") is not None:
            (tmp_path / "nbtest_keyring.py").write_text(KEYRING_BACKEND, encoding="utf-8")
            env |= {
                "PYTHON_KEYRING_BACKEND": "nbtest_keyring.NotebookTestKeyring",
                "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
                "NBTEST_KEYRING_USER": sim.account.login_name,
                "NBTEST_KEYRING_SECRET": sim.account.password,
            }
            source = "password from the system keyring ('mobset_campaign') (not shown)"
        else:  # keyring is in the [notebook] extra; the environment variable path then
            env["MOBSET_PASSWORD"] = sim.account.password
            source = "password from the MOBSET_PASSWORD variable (not shown)"
        run = runner("03_going_live.ipynb", key="03-keyring", **env)
        accepted = sim.accepted()
    _assert_clean(run)
    assert f"Account 300003 / demo; {source}" in run.stdout()
    assert "The gateway address is on this computer" in run.html()
    assert {m.phone for m in accepted} >= {"13512340001", "15912340002"}
    assert len(accepted) == 2 + 35  # the test send, then the campaign: each number once


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_going_live_with_real_credentials_stops_before_anything_risky(
    tmp_path_factory: pytest.TempPathFactory, lang: str
) -> None:
    """Credentials for a gateway that is not on this computer make the notebook LIVE. Left
    unedited (the sample list), it says so and stops before any request or file: the
    gateway address 192.0.2.1 is a documentation address, never routed, so nothing could be
    reached even if it tried."""
    folder = _copy_notebooks(tmp_path_factory.mktemp("nb") / "notebooks")
    nb = nbformat.read(folder / "03_going_live.ipynb", as_version=4)
    env = _kernel_env(
        lang,
        MOBSET_CORP_ID="300123",
        MOBSET_LOGIN_NAME="marketing",
        MOBSET_PASSWORD=PASSWORD,
        MOBSET_BASE_URL="https://192.0.2.1:843/SDK3/Sms",
    )
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    with pytest.raises(CellExecutionError) as caught:
        client.execute(env=env)
    run = Run(nb, folder)
    errors = [o for o in run.outputs() if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["StopHere"]
    # (its traceback shows the cell's code, both languages: the message alone)
    _assert_said(
        errors[0]["evalue"], lang, "这是本包自带的示例名单", "This is the package's sample list"
    )
    _assert_said(run, lang, "● 正式发送。", "● LIVE.")
    assert "REHEARSAL" not in run.html() and "演练模式" not in run.html()
    _assert_said(
        run,
        lang,
        "账号 300123 / marketing；密码来自环境变量 MOBSET_PASSWORD（不显示）。",
        "Account 300123 / marketing; password from the MOBSET_PASSWORD variable (not shown).",
    )
    for text in [*run.texts(), str(caught.value)]:
        assert PASSWORD not in text
    assert not run.out.exists() or not any(run.out.iterdir())  # no ledger, no workbook


# ------------------------------------------------------------------------------ hygiene


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_are_stripped_and_portable(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        assert "execution" not in cell.metadata
        # no absolute paths of anyone's machine
        assert not re.search(r"(/home/|/Users/|/work/|/tmp/|[A-Za-z]:\\)", cell.source), cell.source
    assert nb.cells[0].cell_type == "markdown"  # each opens by saying what it does


def _strip_tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", ROOT / "tools" / "strip_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_strip_tool_finds_nothing_to_strip_in_the_repository() -> None:
    assert _strip_tool().main(["--check"]) == 0


@pytest.mark.slow
def test_the_strip_tool_strips_an_executed_notebook(
    runner: Callable[..., Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = _strip_tool()
    executed = tmp_path / "executed.ipynb"
    nbformat.write(runner("01_quickstart.ipynb").nb, executed)
    assert tool.main(["--check", str(executed)]) == 1
    assert tool.main([str(executed)]) == 0
    assert tool.main(["--check", str(executed)]) == 0
    capsys.readouterr()
    # stripped, it is the committed notebook again, byte for byte
    assert executed.read_bytes() == (NOTEBOOKS / "01_quickstart.ipynb").read_bytes()


def test_the_notebooks_readme_describes_each_notebook() -> None:
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert name in readme
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.slow
def test_running_the_notebooks_leaves_the_repository_untouched(
    runner: Callable[..., Run], repo_files: set[Path]
) -> None:
    for name in NAMES:
        runner(name)
    assert {p for p in NOTEBOOKS.rglob("*")} == repo_files
