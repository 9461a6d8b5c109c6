"""``rmi`` / ``image rm``: docker's untag/delete rules in ``image.remove``; one line per event,
an ``Error:`` line per name that fails, exit 1 if any did. The click command runs ``remove``
below too.

Names that only untag (a tag of an image that keeps another tag, as in ``rmi app:old``) are
removed here through ``store.tagging``, without building the store; a command line with any
other name (an ID, a digest, the last tag of an image, a name the catalog does not know) goes
whole to the engine's ``ImageRemover``, before anything changed.
"""

from .args import Spec

SPEC = Spec(flags={"-f": "force", "--force": "force", "--no-prune": "no_prune"}, nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    driver = ctx.driver()
    if driver is not None:
        from ...store.tagging import Retag

        retag = Retag.open(ctx.data_root, driver)
        if retag is not None:
            with retag:
                targets = _untag_only(retag, args)
                if targets is not None:
                    for target in targets:
                        retag.untag(target)
            if targets is not None:
                ctx.write("".join(f"Untagged: {target.familiar()}\n" for target in targets))
                return 0
    return remove(ctx.engine().image_remover, args, opts["force"], not opts["no_prune"], ctx.write, ctx.error)


def _untag_only(retag, names: list[str]) -> list | None:
    """The references to untag, in order, if every name only untags (``ImageRemover._remove``
    by reference, when another tag of the image remains and no digest goes with the tag:
    no conflict can arise, with or without ``-f``); else None."""
    from ... import reference as refs
    from ...errors import InvalidReference

    tags = {image_id: set(record.repo_tags) for image_id, record in retag.records.items()}
    targets = []
    for name in names:
        if name.startswith("sha256:"):
            return None  # (the remover reads a full ID before any reference)
        try:
            target = refs.parse(name).with_default_tag()
        except InvalidReference:
            return None  # an ID, or an error for the remover to word
        image_id = retag.lookup(target)
        familiar = target.familiar()
        if target.digest is not None or image_id is None or familiar not in tags[image_id]:
            return None
        tags[image_id].discard(familiar)
        if not tags[image_id]:
            return None  # the image's last tag: the image goes too
        repository = target.familiar_name  # (familiar names are as distinct as full ones)
        if not any(t.rpartition(":")[0] == repository for t in tags[image_id]) and any(
            d.partition("@")[0] == repository for d in retag.records[image_id].repo_digests
        ):
            return None  # the repository's last tag takes its digests with it
        targets.append(target)
    return targets


def remove(remover, names, force: bool, prune: bool, write, error) -> int:
    """Remove each name in turn, as docker does; the exit code."""
    from ...errors import LaminaError

    failed = False
    for name in names:
        try:
            events = remover.remove(name, force=force, prune=prune)
        except LaminaError as exc:
            error(f"Error: {exc}\n")
            failed = True
            continue
        write("".join(event.line() + "\n" for event in events))
    return 1 if failed else 0
