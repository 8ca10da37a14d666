"""Seal a crawl run: its WARCs, CDXJ indexes, crawl log and report, and its replay QA report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError, StorageError
from archive.handover import push_package, push_run
from archive.models import CrawlRun, Package, QaCheck, WarcFile
from archive.package.build import PackageInput, PackageResult, build_package
from archive.settings import Settings
from archive.storage import check_storage, in_use, local_copy, local_folder


class AlreadySealedError(BewaarError):
    """The run has a package already; sealing it again needs ``again=True`` (``--again``)."""

    def __init__(self, run_id: int, package_ids: list[str]) -> None:
        self.run_id = run_id
        self.package_ids = package_ids
        super().__init__(f"run {run_id} is already sealed as {package_ids[-1]} "
                         "(use --again to seal it once more)")


def packages_of_run(settings: Settings, run_id: int) -> list[str]:
    """The ids of the packages sealed from run ``run_id``, oldest first."""
    with session_scope(settings) as db:
        return list(db.scalars(select(Package.id).where(Package.run_id == run_id)
                               .order_by(Package.created_at, Package.id)))


def _local(settings: Settings, path_or_url: str, what: str) -> Path:
    """The local file of a stored WARC or index (fetched into the cache from a bucket)."""
    path = local_copy(settings, path_or_url)
    if not path.is_file():
        raise BewaarError(f"{what} {path} is missing; the run cannot be sealed")
    return path


def _tree(base: Path, prefix: str) -> Iterator[PackageInput]:
    if base.is_file():
        yield PackageInput(f"{prefix}/{base.name}", base)
        return
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.name.endswith((".tmp", ".part", ".open", ".lock")):
            yield PackageInput(f"{prefix}/{path.relative_to(base).as_posix()}", path)


def run_inputs(settings: Settings, run_id: int) -> tuple[dict[str, object], list[PackageInput]]:
    """What a run's package holds, checked before anything is written."""
    with session_scope(settings) as db:
        run = db.get(CrawlRun, run_id)
        if run is None:
            raise NotFoundError(f"crawl run {run_id} does not exist")
        if run.status == "running":
            raise BewaarError(f"crawl run {run_id} is still running; seal it when it has finished")
        site = run.site
        meta: dict[str, object] = {
            "site": site.name, "category": site.category, "seeds": list(run.seeds or site.seeds),
            "started": run.started_at, "finished": run.finished_at, "status": run.status,
            "kind": run.kind, "pages": run.pages, "stats": dict(run.stats or {}),
        }
        warcs = list(db.scalars(select(WarcFile).where(WarcFile.run_id == run_id)
                                .order_by(WarcFile.id)))
        qa = db.scalars(select(QaCheck).where(QaCheck.run_id == run_id)
                        .order_by(QaCheck.id.desc()).limit(1)).first()
        qa_path = qa.report_path if qa else None
    if not warcs:
        raise BewaarError(f"crawl run {run_id} has no WARC files to seal")
    inputs: list[PackageInput] = []
    seen: set[Path] = set()
    for w in warcs:
        p = _local(settings, w.path, "WARC file")
        inputs.append(PackageInput(f"warcs/{p.name}", p, "application/warc", link=True,
                                   sha512=w.sha512, size=w.size))
        seen.add(p.resolve())
        if w.cdxj_path:
            c = _local(settings, w.cdxj_path, "CDXJ index")
            inputs.append(PackageInput(f"indexes/{c.name}", c, "application/cdxj"))
            seen.add(c.resolve())
    for item in _tree(settings.runs_dir / str(run_id), "run"):
        assert isinstance(item.source, Path)
        if item.source.resolve() not in seen:
            inputs.append(item)
    if qa_path:
        inputs.extend(_tree(Path(qa_path), "qa"))
    return meta, inputs


def seal_run(settings: Settings, run_id: int,
             progress: Callable[[int], None] | None = None, *,
             again: bool = False) -> PackageResult:
    """``_seal_run`` with the run's WARCs held in the object cache while it reads them."""
    with in_use(settings):
        return _seal_run(settings, run_id, progress, again=again)


def _seal_run(settings: Settings, run_id: int,
              progress: Callable[[int], None] | None = None, *,
              again: bool = False) -> PackageResult:
    """Package and seal crawl run ``run_id`` into ``packages_dir``; see ``build_package``.

    A run that is sealed already is refused (``AlreadySealedError``) unless ``again``: then a
    new package is made, chained after the newest package of the site like any other, and its
    bag-info names the earlier packages of the run (``Bewaar-Run-Sealed-Before``)."""
    check_storage(settings)
    problems = push_run(settings, run_id)  # WARCs whose upload failed: stored first
    if problems:
        raise StorageError(f"crawl run {run_id} cannot be sealed: {problems[0]}")
    earlier = packages_of_run(settings, run_id)
    if earlier and not again and push_package(settings, earlier[-1]):
        return _result(settings, earlier[-1])  # its upload had failed: stored now
    meta, inputs = run_inputs(settings, run_id)
    if earlier and not again:
        raise AlreadySealedError(run_id, earlier)
    started = meta["started"]
    finished = meta["finished"] or started
    seeds = meta["seeds"]
    assert isinstance(seeds, list)
    title = f"Webarchief {meta['site']}, crawl {run_id}"
    description = (
        f"Vastlegging van de website {meta['site']} ({', '.join(seeds)}) door Bewaarplaats, "
        f"crawl {run_id} ({meta['kind']}, {meta['status']}, {meta['pages']} pagina's)."
    )
    category = meta["category"]
    extra: dict[str, str] = {}
    source_event: tuple[str, str] | None = None
    if meta["kind"] == "import":
        title, description, extra, source_event = _imported(meta, run_id)
    return build_package(
        settings,
        source_kind="crawl",
        source_name=str(meta["site"]),
        title=title,
        category=str(category) if category else None,
        files=inputs,
        description=description,
        period=(started, finished),  # type: ignore[arg-type]
        run_id=run_id,
        bag_info={"Bewaar-Seeds": " ".join(seeds), **extra,
                  **({"Bewaar-Run-Sealed-Before": " ".join(earlier)} if earlier else {})},
        progress=progress,
        source_event=source_event,
    )


def _result(settings: Settings, package_id: str) -> PackageResult:
    with session_scope(settings) as db:
        p = db.get(Package, package_id)
        assert p is not None
        return PackageResult(p.id, local_folder(settings, p.path), p.tagmanifest_sha512,
                             p.previous_id, p.timestamped, p.path)


def _imported(meta: dict[str, object], run_id: int
              ) -> tuple[str, str, dict[str, str], tuple[str, str]]:
    """Title, description, bag-info and first MDTO event of an imported archive (its
    provenance, from the run's stats; the whole report is ``run/import.json``)."""
    stats = meta["stats"]
    assert isinstance(stats, dict)
    info = dict(stats.get("import") or {})
    records = dict(stats.get("records") or {})
    files = list(info.get("files") or [])
    software = ", ".join(info.get("software") or ["onbekend"])
    sources = " ".join(str(f.get("source")) for f in files)
    made = sorted(str(f.get("warcinfo_date") or f.get("first_capture") or "") for f in files)
    when = f"{made[0]}" if made and made[0] else "onbekend"
    found = (f"{records.get('total', 0)} records gecontroleerd, {records.get('problems', 0)} "
             f"problemen en {records.get('notes', 0)} opmerkingen gevonden")
    title = f"Webarchief {meta['site']}, import {run_id}"
    description = (
        f"Webarchief van de website {meta['site']}, gemaakt buiten Bewaarplaats door "
        f"{software} ({when}), overgenomen als run {run_id} uit {sources or 'onbekend'} "
        f"({info.get('kind', 'warc')}); {found} (zie run/import.json).")
    bag_info = {k: " ".join(v.split()) for k, v in (  # one line each, whatever came in
        ("Bewaar-Import-Software", software), ("Bewaar-Import-Sources", sources),
        ("Bewaar-Import-Made", when), ("Bewaar-Import-Findings", found))}
    event = ("Opname", f"Webarchief gemaakt door {software} buiten Bewaarplaats, record voor "
                       "record gecontroleerd, overgenomen en met de metagegevens opgenomen in "
                       "een archiefpakket.")
    return title, description, bag_info, event
