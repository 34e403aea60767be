"""``interestgraph audience create|list|show|count|export|report|delete``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..settings import Settings
from .export import FORMATS, export_lines, shop_id_mapping
from .outcomes import Difference, Mean, Rate
from .rules import RuleError
from .service import Audience, AudienceService


@contextmanager
def _service(ctx: click.Context) -> Iterator[AudienceService]:
    from ..graph import open_store

    settings = ctx.obj
    assert isinstance(settings, Settings)
    store = open_store(settings)
    try:
        yield AudienceService.open(store, settings)
    except RuleError as exc:
        raise click.ClickException(f"invalid audience: {exc.field}: {exc.message}") from None
    finally:
        store.close()


def _json_arg(text: str, what: str) -> Any:
    """JSON given inline, or ``@path`` to read it from a file."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    except OSError as exc:
        raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}", param_hint=what) from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint=what) from None


def _arms(text: str | None) -> list[dict[str, Any]] | None:
    """``treatment=90,control=10`` → arms; ``name=weight:scorer`` adds a scorer."""
    if text is None:
        return None
    arms = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, rest = part.partition("=")
        weight, _, scorer = rest.partition(":")
        try:
            value = float(weight)
        except ValueError:
            raise click.BadParameter(f"{part!r}: use name=weight[:scorer]", param_hint="--arms") from None
        if not sep:
            raise click.BadParameter(f"{part!r}: use name=weight[:scorer]", param_hint="--arms")
        arms.append({"name": name.strip(), "weight": value, **({"scorer": scorer} if scorer else {})})
    return arms


def _describe(a: Audience) -> list[str]:
    arms = ", ".join(f"{arm.name} {a.arm_sizes.get(arm.name, 0):,} ({arm.weight:g}"
                     + (f", {arm.scorer}" if arm.scorer else "") + ")" for arm in a.arms)
    return [f"{a.id}  {a.name}", f"  members: {a.size:,} ({a.status}); arms: {arms}",
            f"  rule: {json.dumps(a.rule)}", f"  experiment key: {a.experiment_key}; "
            f"evaluations kept: {len(a.history)}; refresh {a.refresh_version or '-'}"]


@click.group("audience")
def audience() -> None:
    """Audiences: rule-based user lists with experiment arms, exports and reports."""


@audience.command("create")
@click.argument("name")
@click.option("--rule", "rule_text", required=True,
              help="The rule as JSON, or @file.json (see docs/audiences.md).")
@click.option("--arms", "arms_text", help="Arms as name=weight[:scorer],… (default "
              "treatment=90,control=10).")
@click.option("--key", "experiment_key", help="Experiment key for the arm hash (default: the id).")
@click.option("--target", "target_text", help='Targeted {"categories": [...], "items": [...]} '
              "as JSON (default: what the rule's interest conditions name).")
@click.option("--recommendations", type=click.IntRange(1, 50),
              help="Recommendations served per member in arms with a scorer (default 10).")
@click.option("--json", "as_json", is_flag=True, help="Print the audience as JSON.")
@click.pass_context
def create(ctx: click.Context, name: str, rule_text: str, arms_text: str | None,
           experiment_key: str | None, target_text: str | None, recommendations: int | None,
           as_json: bool) -> None:
    """Save an audience and evaluate it; the first evaluation starts its experiment."""
    doc: dict[str, Any] = {"name": name, "rule": _json_arg(rule_text, "--rule")}
    arms = _arms(arms_text)
    for key, value in (("arms", arms), ("experiment_key", experiment_key),
                       ("recommendations", recommendations),
                       ("target", None if target_text is None else _json_arg(target_text, "--target"))):
        if value is not None:
            doc[key] = value
    with _service(ctx) as service:
        created = service.create(doc)
    click.echo(json.dumps(asdict(created)) if as_json else "\n".join(_describe(created)))


@audience.command("count")
@click.option("--rule", "rule_text", required=True, help="The rule as JSON, or @file.json.")
@click.pass_context
def count(ctx: click.Context, rule_text: str) -> None:
    """How many users a rule selects now (nothing is written)."""
    with _service(ctx) as service:
        click.echo(f"{service.count(_json_arg(rule_text, '--rule')):,}")


@audience.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Saved audiences, newest first."""
    with _service(ctx) as service:
        found = service.saved()
    for a in found:
        click.echo(json.dumps(asdict(a)) if as_json else f"{a.id}  {a.size:>8,}  {a.name}")
    if not found and not as_json:
        click.echo("no audiences yet: interestgraph audience create NAME --rule …")


@audience.command("show")
@click.argument("audience_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, audience_id: str, as_json: bool) -> None:
    """One audience: rule, arms with their sizes, history."""
    with _service(ctx) as service:
        found = service.get(audience_id)
    click.echo(json.dumps(asdict(found)) if as_json else "\n".join(_describe(found)))


@audience.command("export")
@click.argument("audience_id")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.option("--ids", "ids_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The shop's own user ids, one per line: adds a shop_id column for the members "
                   "among them (hashed here with the secret; never stored).")
@click.option("--reasons", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Top interests (item and reason) per member.")
@click.pass_context
def export(ctx: click.Context, audience_id: str, fmt: str, output: Path | None,
           ids_file: Path | None, reasons: int) -> None:
    """Stream the current members as CSV or JSON lines."""
    from ..privacy import Pseudonymiser

    settings = ctx.obj
    assert isinstance(settings, Settings)
    mapping = None
    if ids_file is not None:
        pseudonymiser = Pseudonymiser(settings.resolved_secret(), enabled=settings.pseudonymise)
        with ids_file.open(encoding="utf-8") as fh:
            mapping = shop_id_mapping(fh, pseudonymiser)
    with _service(ctx) as service:
        rows = service.export(audience_id, top=reasons)
        with (output.open("w", encoding="utf-8", newline="") if output else _stdout()) as out:
            for chunk in export_lines(rows, fmt, mapping):
                out.write(chunk)


@contextmanager
def _stdout() -> Iterator[Any]:
    yield sys.stdout
    sys.stdout.flush()


def _rate(r: Rate | None) -> str:
    if r is None or r.rate is None:
        return "-"
    return f"{r.rate:.1%} [{r.low:.1%}, {r.high:.1%}] ({r.count:,}/{r.n:,})"


def _mean(m: Mean) -> str:
    if m.mean is None:
        return "-"
    interval = "" if m.low is None else f" [{m.low:,.2f}, {m.high:,.2f}]"
    return f"{m.mean:,.2f}{interval}"


def _diff(d: Difference | None, percent: bool) -> str:
    if d is None or d.diff is None:
        return "-"
    fmt = "{:+.1%}" if percent else "{:+,.2f}"
    interval = "" if d.low is None else f" [{fmt.format(d.low)}, {fmt.format(d.high)}]"
    p = "" if d.p_value is None else f" p={d.p_value:.3f}"
    return fmt.format(d.diff) + interval + p


@audience.command("report")
@click.argument("audience_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report(ctx: click.Context, audience_id: str, as_json: bool) -> None:
    """The experiment: outcome per arm since it started, with 95% intervals and p-values."""
    with _service(ctx) as service:
        found = service.report(audience_id)
    if as_json:
        click.echo(json.dumps(asdict(found)))
        return
    click.echo(f"{found.name} ({found.audience}): {found.cohort:,} members at the start")
    for arm in found.arms:
        click.echo(f"  {arm.arm}: {arm.members:,} members; conversion {_rate(arm.conversion)}; "
                   f"targeted {_rate(arm.target_conversion)}; revenue/member "
                   f"{_mean(arm.revenue_per_member)}; hit rate {_rate(arm.hit_rate)}")
    for c in found.comparisons:
        click.echo(f"  {c.arm} − {c.reference}: conversion {_diff(c.conversion, True)}; "
                   f"targeted {_diff(c.target_conversion, True)}; revenue/member "
                   f"{_diff(c.revenue_per_member, False)}; hit rate {_diff(c.hit_rate, True)}")


@audience.command("delete")
@click.argument("audience_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx: click.Context, audience_id: str, yes: bool) -> None:
    """Delete an audience and all its memberships."""
    if not yes:
        click.confirm(f"Delete audience {audience_id} and its memberships?", abort=True)
    with _service(ctx) as service:
        removed = service.delete(audience_id)
    click.echo(f"deleted {audience_id} ({removed:,} membership edges)")
