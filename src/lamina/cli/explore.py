"""``lamina image layers|blame|diff|waste|tree``: the layer explorer's commands (rendering only;
the answers come from ``lamina.image.explore``)."""

from __future__ import annotations

import json
import stat

import click

from ..errors import NotFound
from ..format import table as tables
from ..format.units import human_size, parse_size
from .context import engine

ARCHIVE_HELP = "Read the image from a saved archive (docker save or OCI layout) instead of the store"
LAYERS_HEADERS = {
    "Index": "LAYER", "DiffID": "DIFF ID", "Size": "SIZE", "Files": "FILES",
    "CreatedBy": "CREATED BY", "Source": "DOCKERFILE", "Dir": "DIR",
}
_MODE_TYPE = {"f": stat.S_IFREG, "d": stat.S_IFDIR, "l": stat.S_IFLNK, "h": stat.S_IFREG,
              "c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _open(ctx: click.Context, name: str | None, archive: str | None):
    explorer = engine(ctx).explorer
    if archive:
        return explorer.open_archive(archive, name)
    if not name:
        raise click.UsageError("an image name is required (or --archive FILE)")
    return explorer.open(name)


def _is_json(fmt: str | None) -> bool:
    return fmt is not None and fmt.strip() == "json"


def _echo_json_lines(rows: list[dict]) -> None:
    click.echo("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), nl=False)


# layers -----------------------------------------------------------------------------------
@click.command("layers")
@click.argument("name", metavar="IMAGE", required=False)
@click.option("--archive", type=click.Path(dir_okay=False), default=None, help=ARCHIVE_HELP)
@click.option("--format", "fmt", default=None, help="Format output using a custom template, or json")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.pass_context
def layers_cmd(ctx, name, archive, fmt, no_trunc):
    """One row per layer, bottom to top: DiffID, size, files, what made it, its directory."""
    image = _open(ctx, name, archive)
    raw = _is_json(fmt)
    rows = []
    shown_layers = set()
    for step in image.steps:
        rows.append(_layer_row(image, step.layer, step, raw, no_trunc))
        if step.layer is not None:
            shown_layers.add(step.layer)
    for info in image.layers:  # history that does not name every layer: list the rest anyway
        if info.number not in shown_layers:
            rows.append(_layer_row(image, info.number, None, raw, no_trunc))
    if raw:
        _echo_json_lines(rows)
        return
    columns = ["Index", "DiffID", "Size", "Files", "CreatedBy"]
    if any(r["Source"] for r in rows):
        columns.append("Source")
    columns.append("Dir")
    default = "table " + "\t".join("{{." + c + "}}" for c in columns)
    click.echo(tables.render(fmt, rows, default, LAYERS_HEADERS), nl=False)


def _layer_row(image, number, step, raw: bool, no_trunc: bool) -> dict:
    created_by = step.instruction if step is not None else ""
    source = step.build.where if step is not None and step.build is not None else ""
    if number is None:
        return {"Index": None if raw else "", "DiffID": "", "Size": 0 if raw else "0 B",
                "Files": None if raw else "", "CreatedBy": created_by if (raw or no_trunc) else _trunc(created_by),
                "Source": source, "Dir": ""}
    info = image.layers[number - 1]
    index = image.index(number)
    diff_id = str(info.diff_id)
    return {
        "Index": number if raw else str(number),
        "DiffID": diff_id if (raw or no_trunc) else diff_id.removeprefix("sha256:")[:12],
        "Size": info.size if raw else human_size(info.size),
        "Files": index.file_count if raw else str(index.file_count),
        "CreatedBy": created_by if (raw or no_trunc) else _trunc(created_by),
        "Source": source,
        "Dir": info.location,
    }


def _trunc(text: str, width: int = 45) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# blame ------------------------------------------------------------------------------------
@click.command("blame")
@click.argument("name", metavar="IMAGE")
@click.argument("patterns", metavar="PATH|GLOB...", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Also every path below each directory named")
@click.option("--archive", type=click.Path(dir_okay=False), default=None, help=ARCHIVE_HELP)
@click.option("--format", "fmt", default=None, help="json: one object per path")
@click.pass_context
def blame_cmd(ctx, name, patterns, recursive, archive, fmt):
    """Which layer added each path, which changed it, which deleted it."""
    from ..image.explore import blame

    image = _open(ctx, name, archive)
    reports, missing = blame.blame(image, patterns, recursive)
    if _is_json(fmt):
        _echo_json_lines([r.as_json() for r in reports])
    else:
        click.echo("".join(line + "\n" for r in reports for line in r.lines()), nl=False)
    for pattern in missing:
        click.echo(f"Error: {pattern}: no such path in any layer of {image.name}", err=True)
    if missing:
        ctx.exit(1)


# diff -------------------------------------------------------------------------------------
@click.command("diff")
@click.argument("first", metavar="IMAGE")
@click.argument("second", metavar="[IMAGE2]", required=False)
@click.option("--layer", "layer", type=int, default=None, help="Changes of layer N against the layers below it")
@click.option("--archive", type=click.Path(dir_okay=False), default=None, help=ARCHIVE_HELP)
@click.option("--format", "fmt", default=None, help="json: one object per change")
@click.pass_context
def diff_cmd(ctx, first, second, layer, archive, fmt):
    """A/C/D changes between two images, or of one layer (--layer N), as container diff prints them."""
    from ..image.explore import analysis

    if (second is None) == (layer is None):
        raise click.UsageError("give either a second image or --layer N")
    image = _open(ctx, first, archive)
    if layer is not None:
        changes = analysis.layer_changes(image.indexes(), image.check_layer(layer))
    else:
        other = _open(ctx, second, archive)
        changes = analysis.image_changes(image.indexes(), other.indexes())
    if _is_json(fmt):
        _echo_json_lines([{"Kind": c.kind, "Path": c.path} for c in changes])
        return
    click.echo("".join(c.line() + "\n" for c in changes), nl=False)


# waste ------------------------------------------------------------------------------------
@click.command("waste")
@click.argument("name", metavar="IMAGE", required=False)
@click.option("--fail-above", default=None, metavar="BYTES", help="Exit 1 when more than BYTES are wasted (e.g. 10MB), for CI")
@click.option("--top", type=click.IntRange(min=0), default=None, help="Show only the N largest rows")
@click.option("--archive", type=click.Path(dir_okay=False), default=None, help=ARCHIVE_HELP)
@click.option("--format", "fmt", default=None, help="json: the whole report as one object")
@click.pass_context
def waste_cmd(ctx, name, fail_above, top, archive, fmt):
    """Bytes lower layers ship that upper layers overwrite or delete, and the efficiency score."""
    from ..image.explore import analysis

    limit = None
    if fail_above is not None:
        limit = parse_size(fail_above)
    image = _open(ctx, name, archive)
    report = analysis.waste(image.indexes())
    rows = report.rows if top is None else report.rows[:top]
    failed = limit is not None and report.wasted_bytes > limit
    if _is_json(fmt):
        doc = {
            "Image": image.name, "TotalBytes": report.total_bytes, "WastedBytes": report.wasted_bytes,
            "Efficiency": round(report.efficiency, 6),
            "Rows": [{"Path": "/" + r.path, "WastedBytes": r.wasted, "Count": r.count, "Layers": r.layers} for r in rows],
        }
        if limit is not None:
            doc["Result"] = "FAIL" if failed else "PASS"
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        click.echo(_waste_text(image, report, rows), nl=False)
        if limit is not None:
            verdict = "FAIL" if failed else "PASS"
            relation = "above" if failed else "within"
            click.echo(f"{verdict}: {human_size(report.wasted_bytes)} wasted, {relation} the {human_size(limit)} limit")
    if failed:
        ctx.exit(1)


def _waste_text(image, report, rows) -> str:
    out = [
        f"Image: {image.name}\n",
        f"  efficiency: {report.efficiency * 100:.4f} %\n",
        f"  wastedBytes: {report.wasted_bytes} bytes ({human_size(report.wasted_bytes)})\n",
        f"  layerBytes: {report.total_bytes} bytes ({human_size(report.total_bytes)})\n",
    ]
    if rows:
        table = [
            {"Count": str(r.count), "Wasted": human_size(r.wasted), "Layers": ",".join(map(str, r.layers)), "Path": "/" + r.path}
            for r in rows
        ]
        out.append("Inefficient files:\n")
        out.append(tables.render(None, table, "table {{.Count}}\t{{.Wasted}}\t{{.Layers}}\t{{.Path}}",
                                 {"Count": "COUNT", "Wasted": "WASTED SPACE", "Layers": "LAYERS", "Path": "FILE PATH"}))
    return "".join(out)


# tree -------------------------------------------------------------------------------------
@click.command("tree")
@click.argument("name", metavar="IMAGE", required=False)
@click.argument("path", required=False, default="/")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="Show N levels below PATH")
@click.option("--layer", "layer", type=int, default=None, help="The tree as it stood after layer N")
@click.option("--archive", type=click.Path(dir_okay=False), default=None, help=ARCHIVE_HELP)
@click.option("--format", "fmt", default=None, help="json: one object per entry")
@click.pass_context
def tree_cmd(ctx, name, path, depth, layer, archive, fmt):
    """The merged file system as a tree: each entry's layer, sizes summed per directory."""
    from ..image.explore import analysis

    image = _open(ctx, name, archive)
    upto = image.check_layer(layer) if layer is not None else len(image.layers)
    root = "/".join(p for p in path.split("/") if p not in ("", "."))
    try:
        top = analysis.merged_tree(image.indexes(upto), root, depth)
    except KeyError:
        raise NotFound(f"{path}: no such path in {image.name}" + (f" at layer {upto}" if layer else "")) from None
    nodes = list(_walk(top, depth))
    if _is_json(fmt):
        _echo_json_lines([_tree_json(node) for node, _ in nodes])
        return
    lines = []
    for node, prefix in nodes:
        lines.append(f"{_mode(node)} {_owner(node):>9} {human_size(node.size):>10} {_layer(node):>5}  {prefix}{_label(node)}\n")
    click.echo("".join(lines), nl=False)


def _walk(top, depth):
    """(node, drawn prefix) depth first in name order, children down to ``depth`` levels."""
    yield top, ""
    yield from _walk_below(top, "", 1, depth)


def _walk_below(node, indent, level, depth):
    if depth is not None and level > depth:
        return
    children = sorted(node.children.values(), key=lambda c: c.name)
    for i, child in enumerate(children):
        last = i == len(children) - 1
        yield child, indent + ("└── " if last else "├── ")
        if child.children:
            yield from _walk_below(child, indent + ("    " if last else "│   "), level + 1, depth)


def _mode(node) -> str:
    if node.index is None:
        return "d?????????"
    kind = chr(node.index.types[node.pos])
    return stat.filemode(_MODE_TYPE.get(kind, stat.S_IFREG) | node.index.modes[node.pos])


def _owner(node) -> str:
    if node.index is None:
        return "-"
    return f"{node.index.uids[node.pos]}:{node.index.gids[node.pos]}"


def _layer(node) -> str:
    return "-" if node.layer is None else str(node.layer)


def _label(node) -> str:
    name = node.name if node.path else "/"
    if node.index is None:
        return name
    kind = chr(node.index.types[node.pos])
    link = node.index.links[node.pos]
    if kind == "l":
        return f"{name} -> {link}"
    if kind == "h":
        return f"{name} (hard link to /{link})"
    return name


def _tree_json(node) -> dict:
    doc = {"Path": "/" + node.path, "Type": node.type, "Size": node.size, "Layer": node.layer}
    if node.index is not None:
        i = node.pos
        doc.update({"Mode": node.index.modes[i], "Uid": node.index.uids[i], "Gid": node.index.gids[i],
                    "Link": node.index.links[i]})
    return doc


__all__ = ["layers_cmd", "blame_cmd", "diff_cmd", "waste_cmd", "tree_cmd"]
