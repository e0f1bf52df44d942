"""Every reader over every real file within reach: the shared validation data, the files the
peers' packages ship (cjio, wntr, pandapower, SUMO, pyswmm) and files written by the peers' own writers
(cjio save / export jsonl, pandapower ``to_json``), each also as .gz and .bz2 when small.

Each file is loaded strictly (``cim.load``); the outcome is *loaded*, *rejected* (a
``cim.CIMError`` that names the file) or *crashed* (anything else, including an error that
names no file, or more than ``--timeout`` seconds). Figures: ``files_loaded``,
``files_rejected``, ``files_crashed`` (must be 0). ``--list`` prints each file's outcome.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cim  # noqa: E402

VALIDATION = ROOT.parent / "shared" / "validation"
SUFFIXES = (".json", ".jsonl", ".gml", ".xml", ".inp", ".osm", ".asc", ".geojson", ".m",
            ".gz", ".bz2", ".citygml", ".cityjson")
SKIP_DIRS = ("__pycache__",)


class _Timeout(Exception):
    pass


def _site_packages() -> Path | None:
    for p in sys.path:
        if p.endswith("site-packages") and Path(p, "wntr").is_dir():
            return Path(p)
    import sysconfig
    sp = Path(sysconfig.get_paths()["purelib"])
    return sp if sp.is_dir() else None


def _files(root: Path, max_bytes: int) -> list[Path]:
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name.lower().endswith(SUFFIXES) and \
                not any(d in p.parts for d in SKIP_DIRS) and p.stat().st_size <= max_bytes:
            out.append(p)
    return out


def shipped_files(max_bytes: int) -> dict[str, list[Path]]:
    """Return {group: files} of the validation data and the peers' packages."""
    groups = {"validation": _files(VALIDATION, max_bytes)}
    sp = _site_packages()
    if sp is not None:
        groups["cjio"] = _files(sp / "cjio", max_bytes)
        groups["wntr"] = _files(sp / "wntr" / "library", max_bytes) + \
            _files(sp / "wntr" / "tests", max_bytes)
        groups["pandapower"] = [p for p in _files(sp / "pandapower", max_bytes)
                                if p.suffix == ".json"]
        groups["sumo"] = _files(sp / "sumo", max_bytes) + _files(sp / "sumo_data", max_bytes)
        groups["pyswmm"] = [p for p in _files(sp / "pyswmm", max_bytes) if p.suffix == ".inp"]
    return groups


def written_files(out: Path, quick: bool) -> dict[str, list[Path]]:
    """Write files with the peers' writers (cjio, pandapower) into ``out``."""
    groups: dict[str, list[Path]] = {"cjio_written": [], "pandapower_written": []}
    cjio = Path(sys.executable).with_name("cjio")
    srcs = sorted((VALIDATION / "cim").rglob("*.city.json"))[: 4 if quick else None]
    for k, src in enumerate(srcs):
        for args, name in ((["save"], f"cj{k}.city.json"), (["export", "jsonl"],
                                                            f"cj{k}.city.jsonl")):
            dst = out / name
            r = subprocess.run([str(cjio), "--suppress_msg", str(src), *args, str(dst)],
                               capture_output=True, timeout=120)
            if r.returncode == 0 and dst.is_file():
                groups["cjio_written"].append(dst)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pandapower as pp
            import pandapower.networks as pn
    except ImportError:
        return groups
    makers = ["case9", "case14", "case30", "example_simple", "example_multivoltage",
              "simple_mv_open_ring_net", "create_cigre_network_mv", "mv_oberrhein",
              "case118"]
    for name in makers[: 4 if quick else None]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = getattr(pn, name)()
                dst = out / f"pp_{name}.json"
                pp.to_json(net, str(dst))
            groups["pandapower_written"].append(dst)
        except Exception as e:  # noqa: BLE001 - a peer that cannot write is not our crash
            print(f"pandapower {name}: not written ({type(e).__name__}: {e})", file=sys.stderr)
    return groups


def compressed_copies(files: list[Path], out: Path, max_bytes: int) -> list[Path]:
    """Return .gz and .bz2 copies of the small files (the readers must see no difference)."""
    res = []
    for k, p in enumerate(files):
        if p.stat().st_size > max_bytes or p.name.endswith((".gz", ".bz2")):
            continue
        data = p.read_bytes()
        g, b = out / f"z{k}_{p.name}.gz", out / f"z{k}_{p.name}.bz2"
        g.write_bytes(gzip.compress(data, mtime=0))
        b.write_bytes(bz2.compress(data))
        res += [g, b]
    return res


def _alarm(signum, frame):
    raise _Timeout


def load_one(path: Path, timeout: int) -> tuple[str, str]:
    """Return (outcome, detail) of loading ``path`` strictly."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            city = cim.load(path)
        return "loaded", json.dumps({k: v for k, v in city.summary().items() if v})
    except cim.CIMError as e:
        if not e.path:
            return "crashed", f"CIMError without a file: {e}"
        return "rejected", str(e).splitlines()[0][:200]
    except _Timeout:
        return "crashed", f"no answer within {timeout} s"
    except Exception as e:  # noqa: BLE001 - what the sweep is for
        return "crashed", f"{type(e).__name__}: {e}"[:300]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def sweep(quick: bool = False, timeout: int = 120, listing: bool = False) -> dict:
    """Run the sweep; return the figures and per-group counts."""
    max_bytes = 5_000_000 if quick else 200_000_000
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reader-sweep-") as tmp:
        out = Path(tmp)
        groups = shipped_files(max_bytes)
        groups.update(written_files(out, quick))
        small = [p for g in ("validation", "wntr") for p in groups.get(g, [])]
        groups["compressed"] = compressed_copies(small[: 40 if quick else None], out, 2_000_000)
        counts: dict[str, Counter] = {}
        crashes = []
        for group, files in groups.items():
            c = counts.setdefault(group, Counter())
            for p in files:
                outcome, detail = load_one(p, timeout)
                c[outcome] += 1
                if listing:
                    print(f"{outcome:8s} {group:18s} {p}  {detail}")
                if outcome == "crashed":
                    crashes.append(f"{p}: {detail}")
    total = sum(counts.values(), Counter())
    return {
        "files_loaded": total["loaded"], "files_rejected": total["rejected"],
        "files_crashed": total["crashed"], "seconds": round(time.perf_counter() - t0, 1),
        "groups": {g: dict(c) for g, c in counts.items()}, "crashes": crashes,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller files and fewer written")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per file")
    ap.add_argument("--list", action="store_true", help="print every file's outcome")
    a = ap.parse_args(argv)
    res = sweep(a.quick, a.timeout, a.list)
    for g, c in res["groups"].items():
        print(f"{g:20s} {c}")
    for line in res["crashes"]:
        print("CRASH", line)
    print(f"files_loaded={res['files_loaded']} files_rejected={res['files_rejected']} "
          f"files_crashed={res['files_crashed']} ({res['seconds']} s)")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1))
    return 1 if res["files_crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
