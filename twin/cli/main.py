"""The ``twin`` command line: districts, build, info, validate, run, compare, view, report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .._json import to_builtin

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    print(f"twin: {msg}", file=sys.stderr)


def _load_inputs(inputs: list[str], *, lenient: bool = False):
    """Return (name, CityModel) for a district name or a list of files."""
    import cim

    if len(inputs) == 1 and inputs[0] in cim.districts() and not Path(inputs[0]).exists():
        return inputs[0], cim.load_district(inputs[0], lenient=lenient)
    name = Path(inputs[0]).name.split(".")[0] or "city"
    return name, cim.load(*inputs, lenient=lenient)


def cmd_districts(args) -> int:
    import cim

    for name, title in cim.districts().items():
        print(f"{name:10s} {title}")
    return EXIT_OK


def cmd_build(args) -> int:
    from tqdm import tqdm

    import cim
    import twin

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = ["load", "build", "glb", "cityjson", "summary", "snapshot"]
    if args.no_snapshot:
        stages.remove("snapshot")
    bar = tqdm(total=len(stages), desc="twin build", unit="stage",
               disable=args.quiet, file=sys.stderr)
    timings = {}

    def stage(label):
        bar.set_postfix_str(label)
        timings[label] = time.perf_counter()

    def done(label):
        timings[label] = round(time.perf_counter() - timings[label], 3)
        bar.update(1)

    stage("load")
    name, city = _load_inputs(args.inputs, lenient=args.lenient)
    done("load")
    stage("build")
    tw = twin.build(city)
    done("build")
    stage("glb")
    tw.export_glb(out / f"{name}.glb")
    done("glb")
    stage("cityjson")
    cim.write_cityjson(city, out / f"{name}.city.json")
    done("cityjson")
    stage("summary")
    summary = tw.summary()
    summary["name"] = name
    summary["sources"] = [str(p) for p in city.report.files]
    summary["skipped"] = city.report.n_skipped
    summary["timings_s"] = timings
    done("summary")
    if "snapshot" in stages:
        stage("snapshot")
        tw.snapshot(out / f"{name}.png")
        done("snapshot")
    bar.close()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False,
                                                 default=to_builtin))
    if not args.quiet:
        _print_summary(summary)
        print(f"wrote {out}/{name}.glb, {name}.city.json, summary.json"
              + (f", {name}.png" if "snapshot" in stages else ""))
    return EXIT_OK


def _print_summary(summary: dict, indent: str = "") -> None:
    for k, v in summary.items():
        if isinstance(v, dict):
            print(f"{indent}{k}:")
            _print_summary(v, indent + "  ")
        elif isinstance(v, float):
            print(f"{indent}{k}: {v:,.3f}")
        else:
            print(f"{indent}{k}: {v}")


def cmd_info(args) -> int:
    import cim

    status = EXIT_OK
    for path in args.files:
        try:
            fmt = cim.detect_format(path)
            city = cim.load(path, lenient=True)
        except cim.CIMError as e:
            print(str(e))
            status = EXIT_INVALID
            continue
        print(f"{path}: {fmt}")
        for k, v in city.summary().items():
            print(f"  {k}: {v}")
        if len(city.buildings):
            h = city.buildings.height
            print(f"  building height m: min {h.min():.1f} mean {h.mean():.1f} max {h.max():.1f}")
            print(f"  residents: {city.buildings.residents.sum():,.0f}  "
                  f"jobs: {city.buildings.jobs.sum():,.0f}")
        if city.roads.n_links:
            print(f"  road length km (directed): {city.roads.link_length.sum() / 1000:,.1f}")
        x0, y0, x1, y1 = city.bounds()
        print(f"  bounds (file CRS): {x0:.3f} {y0:.3f} {x1:.3f} {y1:.3f}")
        if city.crs is not None:
            try:
                print("  bounds WGS84: " + " ".join(f"{v:.5f}" for v in city.bounds_wgs84()))
            except cim.CIMError as e:
                print(f"  bounds WGS84: unavailable ({e.reason})")
        for title in ("title", "synthetic"):
            if title in city.metadata:
                print(f"  {title}: {city.metadata[title]}")
        for note in city.report.notes:
            print(f"  note: {note}")
        if city.report.n_skipped:
            print(f"  skipped (lenient): {city.report.n_skipped} {city.report.skipped_by_kind()}")
    return status


def cmd_validate(args) -> int:
    import cim

    status = EXIT_OK
    for path in args.files:
        try:
            city = cim.load(path, lenient=True)
        except cim.CIMError as e:
            print(str(e))
            status = EXIT_INVALID
            continue
        if city.report.n_skipped:
            status = EXIT_INVALID
            for e in city.report.skipped:
                print(str(e))
        elif not args.quiet:
            print(f"{path}: valid ({city.summary()['buildings']} buildings, "
                  f"{city.roads.n_links} road links)")
    return status


def cmd_run(args) -> int:
    from twin.cli.scenario_file import run_file

    if args.members or args.vary or args.workers or args.scheduler or args.batch:
        from twin.ensemble.cli import run_file as run_ensemble_file

        if args.workers and args.scheduler:
            _err("--workers and --scheduler exclude each other (the scheduler's cluster "
                 "has its own workers)")
            return EXIT_USAGE
        return run_ensemble_file(args.file, members=args.members, vary=args.vary,
                                 workers=args.workers, scheduler=args.scheduler,
                                 batch=args.batch, out=args.out, resume=args.resume,
                                 overwrite=args.overwrite, progress=not args.quiet,
                                 quick=args.quick)
    return run_file(args.file, out=args.out, resume=args.resume, overwrite=args.overwrite,
                    progress=not args.quiet, quick=args.quick)


def cmd_compare(args) -> int:
    from twin.analysis.compare import compare_cli

    if _members(args.run_a) > 1 and _members(args.run_b) > 1:
        from twin.analysis.ensemble import compare_cli as compare_ensembles

        return compare_ensembles(args.run_a, args.run_b, plot=args.plot)
    return compare_cli(args.run_a, args.run_b, plot=args.plot)


def _members(path) -> int:
    """Return the members of the run store at ``path`` (0 when it is not one)."""
    try:
        from twin.store import Run

        return Run(path).n_members
    except Exception:  # not a run store: compare_cli says so
        return 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twin", description="district-twin: 3D twins of Wuxi "
                                "pilot districts and their simulations")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("districts", help="list the pilot districts")
    s.set_defaults(func=cmd_districts)

    s = sub.add_parser("build", help="build a 3D twin from a district name or CIM files")
    s.add_argument("inputs", nargs="+", help="district name (lihu, liangxi) or files")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--lenient", action="store_true", help="skip bad objects (reported)")
    s.add_argument("--no-snapshot", action="store_true", help="do not render the PNG")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("info", help="what is in a file")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("validate", help="check files; exit 1 with one line per problem")
    s.add_argument("files", nargs="+")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("run", help="run a scenario script into a run store")
    s.add_argument("file", help="scenario script (scenarios/*.py)")
    s.add_argument("--out", help="run store path (default: out/runs/<scenario>.zarr)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted run")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run store")
    s.add_argument("--quick", action="store_true", help="shortened version of the scenario")
    s.add_argument("-q", "--quiet", action="store_true")
    e = s.add_argument_group("ensembles (dask.distributed; one store with a member dimension)")
    e.add_argument("--members", type=int, help="members (seeds) per parameter combination")
    e.add_argument("--vary", action="append", metavar="NAME=V1,V2,...",
                   help="a parameter of the script's scenario() and its values (repeatable)")
    e.add_argument("--workers", type=int, help="local worker processes (default: the CPUs)")
    e.add_argument("--scheduler", help="address of a running dask scheduler")
    e.add_argument("--batch", type=int, help="members per task (default: from the kernels)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("compare", help="compare the KPIs of two runs; writes a PNG plot")
    s.add_argument("run_a")
    s.add_argument("run_b")
    s.add_argument("--plot", help="PNG path (default: next to RUN_B)")
    s.set_defaults(func=cmd_compare)

    from twin.viewer.cli import add_parser as add_view

    add_view(sub)

    s = sub.add_parser("report", help="an HTML report of a run (and a comparison)")
    s.add_argument("run")
    s.add_argument("--vs", help="a second run to compare with")
    s.add_argument("--out", help="HTML path (default: <RUN>.report.html)")
    s.add_argument("--city", nargs="+", help="CIM files of the run's city (snapshots)")
    s.add_argument("--no-snapshots", action="store_true", help="no viewer snapshots")
    s.set_defaults(func=cmd_report)
    return p


def cmd_report(args) -> int:
    from twin.analysis.report import report_cli

    return report_cli(args)


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as e:  # typed errors of our packages become one readable line
        from cim import CIMError

        known = (CIMError,)
        try:
            from twin.errors import TwinError
            known += (TwinError,)
        except ImportError:
            pass
        try:
            from agents import DemandError
            known += (DemandError,)
        except ImportError:
            pass
        if isinstance(e, known):
            _err(str(e))
            return EXIT_INVALID
        raise


if __name__ == "__main__":
    sys.exit(main())
