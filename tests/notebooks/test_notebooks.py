"""The walk-throughs in notebooks/ run top to bottom (nbclient) and their outputs make sense.

Each notebook is executed in a kernel of this very interpreter (a kernelspec written to a temporary
JUPYTER_PATH, so a user-wide `python3` kernel of another Python is never picked up), fails on any cell
error, and is checked for a few key values and for what its outputs must never show: an unmasked ID
number or an absolute temporary path. The committed notebooks (stored with their outputs, so that a
reader sees the results) are checked the same way.

Re-execute the committed notebooks after a change: `python tests/notebooks/test_notebooks.py --write`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "reconcile-notebook-test"
# an 18-digit ID number with a plausible birth date, not part of a longer run of digits (a 19-digit 户编号)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
                       r"(?![0-9A-Za-z])")

sys.path.insert(0, str(ROOT))
from reconcile.resources import sample_dir  # noqa: E402

pytestmark = pytest.mark.skipif(not (sample_dir() / "reconcile.yaml").exists(), reason="data/sample is not generated")


def write_kernelspec(folder: Path) -> Path:
    """A kernelspec that starts ipykernel with this interpreter; returns the folder to put on JUPYTER_PATH."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reconcile (test)", "language": "python"}), encoding="utf-8")
    return folder


def execute(path: Path):
    """Run a notebook top to bottom in the notebooks folder; a failing cell raises CellExecutionError."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=300, record_timing=False,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return nb


def outputs(nb) -> list[str]:
    """Every text a reader sees in the outputs: streams, plain text and HTML of results, error text."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            elif out.get("output_type") == "error":
                texts.append("\n".join(out.get("traceback", [])))
            for mime in ("text/plain", "text/html", "text/markdown"):
                value = out.get("data", {}).get(mime)
                if value:
                    texts.append(value if isinstance(value, str) else "".join(value))
    return texts


def stdout(nb) -> str:
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")


def assert_fit_to_show(nb, name: str) -> None:
    text = "\n".join(outputs(nb))
    ids = ID_NUMBER.findall(text)
    assert not ids, f"{name}: unmasked ID numbers in the outputs: {ids[:3]}"
    for folder in {tempfile.gettempdir(), str(ROOT)}:
        assert folder not in text, f"{name}: an absolute path ({folder}) in the outputs"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        home = write_kernelspec(tmp_path_factory.mktemp("jupyter"))
        patch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(home), os.environ.get("JUPYTER_PATH")])))
        patch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        # the notebooks write into tempfile.mkdtemp() folders: keep those inside pytest's own temporary tree
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("notebook-tmp")))
        yield KERNEL


def _listing() -> list[str]:
    return sorted(p.name for p in NOTEBOOK_DIR.iterdir())


@pytest.fixture(scope="module")
def executed(kernel):
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            before = _listing()
            cache[name] = execute(NOTEBOOK_DIR / name)
            assert _listing() == before, f"{name} wrote into notebooks/"
        return cache[name]

    return get


def test_there_are_three_walkthroughs():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_pre_inspection_walkthrough.ipynb", "02_compare_exports.ipynb", "03_write_a_rule.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_executed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run it top to bottom, then save"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert nb.cells[0].cell_type == "markdown" and re.search(r"[\u4e00-\u9fff]", nb.cells[0].source)
    assert_fit_to_show(nb, path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, executed):
    assert_fit_to_show(executed(path.name), path.name)


def test_walkthrough_counts_what_the_api_finds(executed, tmp_path):
    import reconcile

    result = reconcile.run(sample_dir() / "reconcile.yaml", output=tmp_path / "out")
    text = stdout(executed("01_pre_inspection_walkthrough.ipynb"))
    assert f"问题总数 findings: {result.findings.height}\n" in text
    households = result.findings["cluster_id"].drop_nulls().n_unique()
    assert f"涉及户数 households with findings: {households}\n" in text
    assert f"输入问题 input issues: {result.input_issues.height}\n" in text
    assert re.search(r"抽中 \d+ 户\(种子 1,每村 10 户,加权 findings\)", text)
    assert "<临时目录>/out/核查报告.xlsx" in text and "<临时目录>/out/report.html" in text


def test_comparison_shows_changes_fixes_and_new_findings(executed):
    text = stdout(executed("02_compare_exports.ipynb"))
    households = re.search(r"户的变动: (\{.*\})", text)
    assert households and json.loads(households.group(1).replace("'", '"')) == {"新识别": 1, "销户": 1}
    persons = json.loads(re.search(r"人的变动: (\{.*\})", text).group(1).replace("'", '"'))
    assert persons["自然增加(出生)"] == 1 and persons["自然减少(死亡)"] == 1
    ledger = re.search(r"已整改销号 resolved (\d+),未整改 open (\d+),新发现 new (\d+)", text)
    assert ledger, text
    resolved, still_open, new = map(int, ledger.groups())
    assert resolved > 0 and new > 0 and still_open > 0
    first = int(re.search(r"第 1 次运行:问题 (\d+) 个", text).group(1))
    second = int(re.search(r"第 2 次运行:问题 (\d+) 个", text).group(1))
    assert second == first - resolved + new


def test_new_rule_is_tested_and_run_on_the_sample(executed):
    text = stdout(executed("03_write_a_rule.ipynb"))
    assert "通过:1 个问题,与预期完全一致" in text
    assert "是否应为 `identify_procedure`" in text  # the misspelt kind is caught before any data is read
    assert re.search(r"其中本县规则 0 个", text)
    assert "'new': 1" in text  # the seeded archive typo is the one new finding


def _write_all() -> None:
    """Execute every notebook and store it with its outputs (cell metadata cleared)."""
    import time

    with tempfile.TemporaryDirectory() as home:
        os.environ["JUPYTER_PATH"] = str(write_kernelspec(Path(home)))
        for path in NOTEBOOKS:
            started = time.perf_counter()
            nb = execute(path)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.metadata = {}
            nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
            assert_fit_to_show(nb, path.name)
            nbformat.write(nb, path)
            print(f"{path.name}: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/notebooks/test_notebooks.py --write   (re-execute and store notebooks/*.ipynb)")
    _write_all()
