"""What ``image ls`` and ``image inspect`` print: shared by the click commands and the fast path.

The default ``images`` table needs nothing heavier than the arithmetic in ``format.humanize``
and ``format.tabwriter``, so ``lamina.cli.fast`` renders it before click, ``re`` or ``json``
load; ``--format`` loads the template engine when asked. The two paths print the same bytes
because they run this same code.
"""

from ..format.humanize import format_time_created_at, human_duration, human_size
from ..format.tabwriter import tabwrite

__all__ = [
    "IMAGE_HEADERS", "HISTORY_HEADERS", "render_images", "image_rows", "default_table", "quiet_ids", "render_inspect",
    "render_history", "history_rows", "render_documents",
]

IMAGE_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
    "Containers": "CONTAINERS",
}


def render_images(images, now: float, quiet: bool, digests: bool, no_trunc: bool, fmt: str | None) -> str:
    """The whole output of ``images`` for these summaries (after filters), ``now`` in Unix
    seconds."""
    if quiet:
        return quiet_ids(image_rows(images, no_trunc, now))
    if fmt is None:
        return default_table(image_rows(images, no_trunc, now), digests)
    from ..format import table as tables

    rows = image_rows(images, no_trunc, now, created_at=_created_at)
    default = "table {{.Repository}}\t{{.Tag}}\t" + ("{{.Digest}}\t" if digests else "") + "{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    return tables.render(fmt, rows, default, IMAGE_HEADERS)


def render_inspect(docs: list, fmt: str) -> str:
    """``inspect -f FMT``: the template once per document, each followed by a newline."""
    from ..format.template import compile_template

    template = compile_template(fmt)
    return "".join(template.render(doc) + "\n" for doc in docs)


def render_documents(docs: list, fmt: str | None, ensure_ascii: bool = False) -> str:
    """``inspect``'s whole stdout: ``-f``'s template once per document, or docker's indented JSON
    array (``json.dumps(docs, indent=4)``). A document is a dict, or its JSON text already so
    indented (the image catalog keeps them that way); ``lamina.jsonc`` writes the rest, so the
    lean path does not load ``json``."""
    from .. import jsonc

    if fmt and fmt != "json":
        return render_inspect([jsonc.loads(d) if isinstance(d, str) else d for d in docs], fmt)
    texts = [d if isinstance(d, str) else jsonc.dumps_indented(d, 4, ensure_ascii) for d in docs]
    if not texts:
        return "[]\n"
    return "[\n    " + ",\n    ".join(text.replace("\n", "\n    ") for text in texts) + "\n]\n"


def _created_at(image) -> str:
    return "N/A" if image.created_ts is None else format_time_created_at(image.created_ts)


def image_rows(images, no_trunc: bool, now: float, created_at=None) -> list[dict[str, str]]:
    """One row per (repository, tag) of each image, as docker's image formatter makes them.

    ``images`` are ``ImageSummary`` or ``CatalogImage`` values (``id``, ``repo_tags``,
    ``repo_digests``, ``created_ts``, ``size``); ``now`` is Unix seconds; ``created_at``, when
    given, renders the CreatedAt field (only custom formats show it).
    """
    rows = []
    for image in images:
        ident = str(image.id)
        since = "N/A" if image.created_ts is None else human_duration(now - image.created_ts) + " ago"
        base = {
            "ID": ident if no_trunc else ident.partition(":")[2][:12],
            "CreatedSince": since,
            "Size": human_size(image.size),
            "VirtualSize": human_size(image.size),
            "SharedSize": "N/A",
            "UniqueSize": "N/A",
            "Containers": "N/A",
        }
        if created_at is not None:
            base["CreatedAt"] = created_at(image)
        digest_by_repo: dict[str, str] = {}
        for text in image.repo_digests:
            repo, _, digest = text.partition("@")
            digest_by_repo.setdefault(repo, digest)
        pairs = []
        for text in image.repo_tags:
            repo, _, tag = text.rpartition(":")
            pairs.append((repo, tag, digest_by_repo.get(repo, "<none>")))
        if not pairs:
            pairs = [(repo, "<none>", digest) for repo, digest in digest_by_repo.items()]
        if not pairs:
            pairs = [("<none>", "<none>", "<none>")]
        for repo, tag, digest in pairs:
            rows.append({**base, "Repository": repo, "Tag": tag, "Digest": digest})
    return rows


def default_table(rows: list[dict[str, str]], digests: bool) -> str:
    """``images`` without ``--format``: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE."""
    columns = ["Repository", "Tag", *(["Digest"] if digests else []), "ID", "CreatedSince", "Size"]
    lines = ["\t".join(IMAGE_HEADERS[c] for c in columns) + "\n"]
    lines += ["\t".join(row[c] for c in columns) + "\n" for row in rows]
    return tabwrite(lines)


def quiet_ids(rows: list[dict[str, str]]) -> str:
    """``images -q``: each image ID once, in row order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row["ID"], None)
    return "".join(ident + "\n" for ident in seen)


HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def render_history(entries, human: bool, no_trunc: bool, quiet: bool, fmt: str | None) -> str:
    """The whole output of ``history`` for ``ImageService.history`` entries (newest first)."""
    rows = history_rows(entries, human, no_trunc)
    if quiet:
        return "".join(r["ID"] + "\n" for r in rows)
    from ..format import table as tables

    default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    return tables.render(fmt, rows, default, HISTORY_HEADERS)


def history_rows(entries, human: bool, no_trunc: bool) -> list[dict]:
    from datetime import UTC, datetime

    from ..errors import InvalidArgument
    from ..format.units import created_since, parse_time

    now = datetime.now(UTC)
    rows = []
    for e in entries:
        try:
            created = parse_time(e.created)
        except InvalidArgument:
            since = created_at = "N/A"
        else:
            # docker: time.Unix(created).Format(time.RFC3339), in the local zone
            created_at = _rfc3339_seconds(created)
            since = created_since(created, now) if human else created_at
        created_by = e.created_by.replace("\t", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        ident = e.id
        if ident != "<missing>" and not no_trunc:
            ident = ident.removeprefix("sha256:")[:12]
        rows.append(
            {
                "ID": ident,
                "CreatedSince": since,
                "CreatedAt": created_at,
                "CreatedBy": created_by,
                "Size": human_size(e.size) if human else str(e.size),
                "Comment": e.comment,
                "Tags": ", ".join(e.tags),
            }
        )
    return rows


def _rfc3339_seconds(moment) -> str:
    text = moment.astimezone().replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
