"""Command line: `reconcile run CONFIG`, `reconcile demo`, ... (help in Chinese)."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from . import __version__
from .errors import ReconcileError, require_extra

app = typer.Typer(
    name="reconcile",
    help="扶贫/防返贫监测数据“四个一致”比对工具:系统导出、村级档案、扶贫手册、入户核查逐户逐人比对。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
rules_app = typer.Typer(help="规则目录:列出规则、查看某条规则的参数和 SQL。", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


class _LedgerGroup(TyperGroup):
    """`reconcile ledger CONFIG` stays the progress summary; `import` and `show` are its other commands."""

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["summary", *args]
        return super().resolve_command(ctx, args)


ledger_app = typer.Typer(cls=_LedgerGroup, no_args_is_help=True,
                         help="问题台账:整改进度(reconcile ledger 配置文件)、导入乡镇答复(import)、查看一个问题的历史(show)。")
app.add_typer(ledger_app, name="ledger")

console = Console(stderr=True)
out_console = Console()
STATE = {"debug": False}


def _fail(exc: BaseException) -> None:
    if STATE["debug"]:
        traceback.print_exception(exc)
    # soft_wrap: a long line stays one line, so a `pip install …` hint is copied whole
    console.print(f"[bold red]错误:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # may hold "[web]"
    raise typer.Exit(getattr(exc, "exit_code", 2))


def _version(value: bool) -> None:
    if value:
        out_console.print(f"reconcile {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="显示版本号")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="出错时显示完整的程序调用栈(供开发人员排查)")] = False,
) -> None:
    STATE["debug"] = debug


def _runner(config_path: Path, engine: str, workers: int | None, master: str | None):
    """What `run` calls: the county pipeline, or a province's partitioned run (a config with `counties:`)."""
    from functools import partial

    from .config import load_config
    from .pipeline import run
    from .province import is_province_file, load_province

    if engine not in ("local", "spark"):
        raise ReconcileError(f"--engine 应为 local 或 spark,实际为 {engine}")
    if is_province_file(config_path):
        from .province.run import run_province

        return partial(run_province, load_province(config_path), engine=engine, workers=workers, master=master)
    if engine == "spark":  # one county on Spark: a province of one
        from .province import ProvinceConfig, partition_key
        from .province.run import run_province

        county = load_config(config_path)
        county.partition = partition_key(county.path or config_path, set())
        province = ProvinceConfig(path=county.path or config_path, region=county.region, year=county.year,
                                  output=county.output, ledger=county.ledger, counties=[county])
        return partial(run_province, province, engine=engine, workers=workers, master=master)
    if workers or master:
        raise ReconcileError("--workers / --master 只用于省级配置(含 counties:)或 --engine spark")
    return partial(run, load_config(config_path))


def plan_dict(plan) -> dict:
    """The run plan for `--json`: rules not fully run and every notice, in Chinese."""
    return {
        "rules": {r.rule_id: {"status": r.status, "reason": r.reason, "unchecked": r.unchecked} for r in plan.rules},
        "files": {f.owner: {"usage": f.usage, "fields": {r["field"]: r["status"] for r in f.fields if r["field"]}}
                  for f in plan.files.values()},
        "notices": [{"level": n.level, "source": n.owner, "message": n.message} for n in plan.notices],
    }


def print_plan(plan, target) -> None:
    """Which fields each file gave and which rules did not (fully) run: the run's coverage."""
    target.print("[bold]核查范围[/]", highlight=False)
    for line in plan.summary_lines():
        target.print(escape(line), highlight=False)


def print_notices(plan, target) -> None:
    for notice in plan.notices:
        style = {"error": "bold red", "warning": "yellow"}.get(notice.level, "cyan")
        word = {"error": "错误", "warning": "注意", "info": "说明"}.get(notice.level, "说明")
        target.print(f"[{style}]{word}:[/] {escape(notice.message)}", highlight=False)


def _run(config_path: Path, output: Path | None, quiet: bool, as_json: bool, fail_on: str | None,
         show_ids: bool = False, split_by: str | None = None, engine: str = "local", workers: int | None = None,
         master: str | None = None) -> None:
    from .report.summary import print_summary, summary_dict

    try:
        run = _runner(config_path, engine, workers, master)
        if quiet or as_json:
            result = run(output=output, show_ids=show_ids, split_by=split_by)
        else:
            from .report.progress import StageProgress

            with StageProgress(console) as progress:
                result = run(output=output, on_stage=progress.update, show_ids=show_ids, split_by=split_by)
    except ReconcileError as exc:
        _fail(exc)
        return
    if as_json:
        data = summary_dict(result)
        if result.plan is not None:
            data["plan"] = plan_dict(result.plan)
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif not quiet:
        print_summary(result, out_console)
        if result.plan is not None:
            print_plan(result.plan, out_console)
    if result.plan is not None and not as_json:
        print_notices(result.plan, console)  # warnings reach the terminal even with --quiet
    failed = result.rule_runs.filter(result.rule_runs["status"] == "error") if result.rule_runs.height else None
    if failed is not None and failed.height:
        # the other rules ran and the reports are written, but a check that could not run is not a clean run
        for rule in failed.iter_rows(named=True):
            console.print(f"[bold red]错误:[/] 规则 {escape(rule['rule_id'])}({escape(rule['title'] or '')})运行出错,"
                          f"没有核查:{escape(rule['reason'] or '')}", highlight=False)
        console.print(f"[bold red]错误:[/] {failed.height} 条规则运行出错,其余规则的结果已写出;请修正规则后重新运行",
                      highlight=False)
        raise typer.Exit(2)
    if fail_on:
        levels = {"high": ["high"], "medium": ["high", "medium"], "low": ["high", "medium", "low"]}[fail_on]
        if result.findings.filter(result.findings["severity"].is_in(levels)).height:
            raise typer.Exit(1)


@app.command("run")
def run_command(
    config: Annotated[Path, typer.Argument(help="配置文件 reconcile.yaml 的路径")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认为配置中的 output:)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="不显示进度和汇总")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出运行汇总(供批处理)")] = False,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="存在该级别(high/medium/low)及以上问题时退出码为 1")] = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="核查报告.xlsx 和 report.html 中显示完整证件号码(默认打码)")] = False,
    split_by: Annotated[str | None, typer.Option("--split-by", help="township:另为每个乡镇写一份只含本乡镇的核查报告;"
                                                 "county(省级配置):另为每个县写一份")] = None,
    engine: Annotated[str, typer.Option("--engine", help="local:本机运行(默认);spark:各县作为 Spark 任务运行(需 reconcile[spark])")] = "local",
    workers: Annotated[int | None, typer.Option("--workers", help="省级运行时同时核查的县数(默认每核一个)")] = None,
    master: Annotated[str | None, typer.Option("--master", help="Spark master 地址,例如 local[2]、spark://主机:7077、yarn")] = None,
) -> None:
    """按配置文件运行全部核查:读取 → 检查输入 → 标准化 → 匹配 → 规则核查 → 问题台账 → 写出结果。

    配置中有 counties:(省级配置)时,各县分别核查后合并,再运行跨县规则(同一证件号码跨县登记等)。"""
    if fail_on and fail_on not in ("high", "medium", "low"):
        _fail(ReconcileError(f"--fail-on 应为 high / medium / low,实际为 {fail_on}"))
    _run(config, output, quiet, as_json, fail_on, show_ids, split_by, engine, workers, master)


@app.command("demo")
def demo_command(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录")] = None,
    monitoring: Annotated[bool, typer.Option(
        "--monitoring", help="运行监测期示例县(2024年度,防返贫监测信息系统导出),结果默认写到 ./reconcile-demo-监测期/")] = False,
) -> None:
    """用自带的示例县数据运行一遍,结果写到 ./reconcile-demo/(--monitoring:监测期示例县)。"""
    from .resources import sample_dir

    config = (sample_dir() / "监测期" if monitoring else sample_dir()) / "reconcile.yaml"
    output = output or Path("reconcile-demo-监测期" if monitoring else "reconcile-demo")
    if not config.exists():
        _fail(ReconcileError(f"找不到示例县数据: {config}"))
    _run(config, output.resolve(), False, False, None)


def _port_free(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="监听地址;默认 127.0.0.1,只允许本机访问。其他地址(如 0.0.0.0:局域网内其他电脑也能访问)必须同时设置访问密码 --password")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="端口")] = 8765,
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="保存上传文件和核查结果的文件夹(网页只在这里写文件)")] = Path("reconcile-web"),
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", help="每次上传的大小上限(MB)")] = 200,
    password: Annotated[str | None, typer.Option("--password", envvar="RECONCILE_WEB_PASSWORD", show_envvar=False,
        help="访问密码(至少 8 个字符):监听地址不是本机时必须设置,打开网页时先输入它;也可用环境变量 RECONCILE_WEB_PASSWORD 给出(命令行会被本机其他用户看到)")] = None,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help="其他电脑访问本网页时用的地址或名称,可多次给出,例如 --allow-host 192.168.1.5")] = None,
) -> None:
    """启动本机网页:在浏览器中上传文件、核对列名、运行核查、按村查看问题、下载核查报告(不需要命令行和配置文件)。"""
    try:
        require_extra("uvicorn", "web", "网页功能")
        require_extra("reconcile.web.app", "web", "网页功能")
    except ReconcileError as exc:
        _fail(exc)
        return
    from .web.serve import plan_access, serve

    if max_upload_mb < 1:
        _fail(ReconcileError(f"--max-upload-mb 应为正整数,实际为 {max_upload_mb}"))
    try:
        plan_access(host, password, allow_host or [])  # beyond loopback without a password: refused first
    except ReconcileError as exc:
        _fail(exc)
    if not _port_free(host, port):
        _fail(ReconcileError(f"无法在 {host}:{port} 启动:端口已被占用或地址不可用。请用 --port 换一个端口,例如 --port {port + 1}"))
    try:
        serve(host, port, workdir, max_upload_mb, password=password, allow_hosts=allow_host or [],
              echo=lambda line: out_console.print(line, highlight=False, markup=False))
    except ReconcileError as exc:
        _fail(exc)


@app.command("check-config")
def check_config_command(config: Annotated[Path, typer.Argument(help="配置文件路径")]) -> None:
    """只检查配置、规则和各文件的表头(不读取数据行),一次列出所有问题,并显示核查范围:每个文件识别出哪些字段、
    哪些规则不能运行或只能部分运行及原因;省级配置(含 counties:)检查其中每个县。"""
    from .config import load_config
    from .plan import compile_plan
    from .province import is_province_file, load_province
    from .province.run import preflight_counties

    try:
        if is_province_file(config):  # every county's problems at once, as `run` finds them before it starts
            province = load_province(config)
            preflight_counties(province)
            out_console.print(f"[green]省级配置有效[/]: {province.region} {province.year} 年,"
                              f"{len(province.counties)} 个县({', '.join(province.keys)});输出到 {province.output}")
            return
        cfg = load_config(config)
        plan = compile_plan(cfg)
    except ReconcileError as exc:
        _fail(exc)
        return
    out_console.print(f"[green]配置有效[/]: {cfg.region} {cfg.year} 年,来源 {', '.join(cfg.sources)};"
                      f"部门数据 {len(cfg.registers)} 类;输出到 {cfg.output}")
    print_plan(plan, out_console)
    print_notices(plan, console)


@app.command("init")
def init_command(directory: Annotated[Path, typer.Argument(help="在此目录写出带注释的 reconcile.yaml 模板")]) -> None:
    """写出一个带中文注释的配置模板 reconcile.yaml。"""
    from .resources import config_template

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "reconcile.yaml"
    if target.exists():
        _fail(ReconcileError(f"{target} 已存在,不会覆盖。请换一个目录或先改名。"))
    target.write_text(config_template(), encoding="utf-8")
    out_console.print(f"已写出配置模板: {target}")


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option("--out", help="输出目录")] = Path("synthetic-county"),
    households: Annotated[int, typer.Option("--households", "-n", help="户数")] = 400,
    seed: Annotated[int, typer.Option("--seed", help="随机种子(相同种子生成相同数据)")] = 1,
    corruption: Annotated[str, typer.Option("--corruption", help="数据质量噪声: low / medium / high")] = "low",
) -> None:
    """生成一个模拟县(含各类已知问题和标准答案),用于测试和演示(需在源码目录中安装)。"""
    try:
        # the generator is a development tool beside the product, never inside it: it must share no code
        # with the engine it is meant to judge
        from reconcile_synth import generate
    except ImportError:
        _fail(ReconcileError("模拟县生成器 reconcile_synth 不随 reconcile 发布:请在 reconcile 的源码目录中"
                             "执行 pip install -e \".[dev]\" 后再用(示例县已随程序提供: reconcile demo)。"))
        return

    if out.exists() and any(out.iterdir()):
        _fail(ReconcileError(f"输出目录 {out} 非空,不会覆盖。请换一个目录。"))
    path = generate(out, households=households, seed=seed, corruption=corruption)
    out_console.print(f"已生成模拟县: {path}")


@app.command("validate")
def validate_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径")],
    gx: Annotated[bool, typer.Option("--gx", help="同时用 Great Expectations 按同一约定校验(需安装 reconcile[gx])")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录")] = None,
) -> None:
    """只读取并检查输入文件,写出 input_issues.csv(可选 Great Expectations 结果)。"""
    from .config import load_config
    from .validate.command import validate_only

    try:
        cfg = load_config(config)
        if output is not None:
            cfg = cfg.with_output(output)
        summary = validate_only(cfg, gx=gx)
    except ReconcileError as exc:
        _fail(exc)
        return
    for line in summary:
        out_console.print(line)


@app.command("explain-link")
def explain_link_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径(读取其输出目录中的运行结果)")],
    first: Annotated[str, typer.Argument(help="第一条记录: 来源:记录键,例如 system:4306241012010000001")],
    second: Annotated[str, typer.Argument(help="第二条记录: 来源:记录键,例如 archive:村级台账.csv::15")],
    show_ids: Annotated[bool, typer.Option("--show-ids", help="显示完整证件号码")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="运行结果所在目录(默认为配置中的 output:)")] = None,
) -> None:
    """说明两条记录为什么(没有)被匹配为同一户或同一人:逐项比较、等级、得分和结论。"""
    from .link.explain import explain_link_command as explain

    try:
        explain(config, first, second, out_console, show_ids, output)
    except ReconcileError as exc:
        _fail(exc)


@ledger_app.command("summary")
def ledger_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径(台账位置取自其中的 ledger: 或 output:)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认为配置中的 output:)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """显示整改进度(reconcile ledger 配置文件 即此命令):按乡镇、村、帮扶责任人、问题类型的问题数、已销号、核实无误、整改中、逾期和整改率,以及逾期未整改清单。"""
    from .ledger_report import ledger_summary, print_ledger

    try:
        summary = ledger_summary(_ledger_config(config, output).ledger)
    except ReconcileError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        print_ledger(summary, out_console)


def _ledger_config(config: Path, output: Path | None):
    from .config import load_config

    cfg = load_config(config)
    return cfg.with_output(output) if output is not None else cfg


@ledger_app.command("import")
def ledger_import_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径(台账位置取自其中的 ledger: 或 output:)")],
    files: Annotated[list[Path], typer.Argument(help="乡镇填写后交回的报告(.xlsx),可以多个")],
    by: Annotated[str | None, typer.Option("--by", help="导入人(答复中没有填写责任人时记为答复人)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认为配置中的 output:)")] = None,
) -> None:
    """读回乡镇填写的核实结果(已整改/核实无误/整改中/无法整改)、说明、责任人和整改期限:逐行检查,有效的一次性写入台账,无效的逐条说明原因。"""
    from .clock import now
    from .ledger_import import import_answers
    from .outputs import output_lock

    try:
        cfg = _ledger_config(config, output)
        with output_lock(cfg.output):  # not while a run writes the same ledger
            report = import_answers(cfg.ledger, files, by, now())
    except ReconcileError as exc:
        _fail(exc)
        return
    out_console.print(f"已导入 {len(report.applied)} 条答复;与台账相同未变 {len(report.unchanged)} 条;"
                      f"拒绝 {len(report.refused)} 条", highlight=False)
    for line in report.refused:
        console.print(f"[yellow]拒绝:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if report.refused:
        raise typer.Exit(1)


@ledger_app.command("show")
def ledger_show_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径")],
    finding_id: Annotated[str, typer.Argument(help="问题编号(核查报告“问题台账”中的问题编号列)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认为配置中的 output:)")] = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="显示完整证件号码")] = False,
) -> None:
    """一个问题的全部历史:每次运行的状态和当时的证据,每一次核实和整改答复(谁、何时、结论、依据)。"""
    from .ledger_report import show_finding

    try:
        cfg = _ledger_config(config, output)
        show_finding(cfg.ledger, finding_id, out_console, show_ids,
                     {key: cfg.sources[key].role for key in cfg.sources_by_trust()})
    except ReconcileError as exc:
        _fail(exc)


@app.command("sample")
def sample_command(
    config: Annotated[Path, typer.Argument(help="配置文件路径")],
    per_village: Annotated[int | None, typer.Option("--per-village", "-n", help="每村抽取户数(默认取配置 sampling.per_village,否则 10)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="随机种子:相同种子、相同数据抽出相同的户")] = 1,
    weight: Annotated[str | None, typer.Option("--weight", help="findings:有问题的户被抽中的机会更大")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认为 <output>/抽样)")] = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="名单和调查表中显示完整证件号码(默认打码)")] = False,
) -> None:
    """抽取入户核查样本:每村按类别配额抽户(往年脱贫、去年脱贫、今年计划脱贫、未脱贫、非建档立卡),写出抽样名单和预填的农户调查表。"""
    from .config import load_config
    from .pipeline import run
    from .sample import print_sample, run_database, sample
    from .sample_forms import write_sample

    if weight not in (None, "findings", "none"):
        _fail(ReconcileError(f"--weight 只支持 findings,实际为 {weight}"))
    try:
        cfg = load_config(config)
        if not run_database(cfg).exists():
            console.print(f"[yellow]{run_database(cfg)} 不存在,先运行一次核查(reconcile run)……[/]")
            run(cfg)
        result = sample(cfg, per_village=per_village, seed=seed, weight=weight, output=output)
        write_sample(result, cfg, show_ids=show_ids)
    except ReconcileError as exc:
        _fail(exc)
        return
    print_sample(result, out_console)


@app.command("compare-exports")
def compare_exports_command(
    old: Annotated[Path, typer.Argument(help="较早的国家系统导出文件")],
    new: Annotated[Path, typer.Argument(help="较新的国家系统导出文件")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="取其中 system 来源的列名映射和表头设置,以及部门数据")] = None,
    source: Annotated[str | None, typer.Option("--source", help="用配置中的哪个来源的设置(默认第一个 role: system 的来源)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出目录(默认 <output>/导出比对,无配置时 ./导出比对)")] = None,
    old_date: Annotated[str | None, typer.Option("--old-date", help="旧导出的日期 YYYY-MM-DD(用于判断新生儿、死亡时间)")] = None,
    new_date: Annotated[str | None, typer.Option("--new-date", help="新导出的日期 YYYY-MM-DD")] = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="工作簿中显示完整证件号码(默认打码)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出汇总")] = False,
) -> None:
    """比较两次国家系统导出:列出新增、减少、变更的户和人(逐字段前后值),按动态调整类型分类,并与公安户籍、死亡数据核对。"""
    from .compare_exports import compare_exports
    from .compare_exports_report import print_comparison, write_comparison

    try:
        result = compare_exports(old, new, config=config, source=source, output=output, old_date=old_date,
                                 new_date=new_date)
        write_comparison(result, show_ids)
    except ReconcileError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(result.summary(), ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        print_comparison(result, out_console)


@rules_app.command("list")
def rules_list() -> None:
    """列出全部规则:编号、问题类型、名称、所需来源、严重程度。"""
    from .check.catalogue import print_catalogue

    print_catalogue(out_console)


@rules_app.command("explain")
def rules_explain(
    rule_id: Annotated[str, typer.Argument(help="规则编号,例如 FC-HH-SIZE")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="同时查找此配置加入的规则包,并显示它的参数值")] = None,
) -> None:
    """显示一条规则的定义、比对的来源、参数和它运行的 SQL(与配置无关:运行时只按本次的来源缩小范围)。"""
    from .check.catalogue import explain_rule

    try:
        explain_rule(rule_id, config, out_console)
    except ReconcileError as exc:
        _fail(exc)


if __name__ == "__main__":
    app()
