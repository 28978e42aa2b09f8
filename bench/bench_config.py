"""What checking mvtools.yaml against its schema costs a hook, beside the alternatives.

The hooks load mvtools.yaml on every commit that starts Python, so the schema library is
on the hook path. Each row starts a fresh Python (as a hook does) that imports the hook
module, then builds and checks a schema of the same shape as mvtools.yaml's; the reference
is the same process without any schema. Best of N and median, printed as ratios.

    python bench/bench_config.py [--quick] [--runs N]

Rows: mvtools' own (frozen dataclasses checked by mvtools/settings.py), msgspec Structs
(``forbid_unknown_fields``), pydantic v2 models (``extra="forbid"``), and no schema at
all. msgspec and pydantic are optional (``pip install msgspec pydantic``): a row says so
when its library is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

DOC = ("{'scheme': 'semver', 'stages': ['development', 'staging', 'production'],"
       " 'models': [{'name': 'clf', 'path': 'models/clf.pkl', 'metrics': ['metrics.json']}],"
       " 'compare': {'threshold': 0.05}, 'environments': {'prod': {'gate': {'accuracy': {'min': 0.8}}}}}")

NONE = "import mvtools.hooks\n"
MVTOOLS = "import mvtools.hooks\nfrom mvtools.settings import parse_settings\nparse_settings(%s)\n" % DOC
# the same schema in each library: only the base class and the call differ
SCHEMA = """
class Model(S):
    name: str
    path: str
    metrics: List[str] = []
class Gate(S):
    min: Optional[float] = None
class Env(S):
    gate: Dict[str, Gate] = {}
class Compare(S):
    threshold: float = 0.05
class Settings(S):
    scheme: Literal["semver", "timestamp"] = "semver"
    stages: List[str] = []
    models: List[Model] = []
    compare: Compare = Compare()
    environments: Dict[str, Env] = {}
"""
MSGSPEC = """import mvtools.hooks
from typing import Dict, List, Literal, Optional
import msgspec
class S(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass""" + SCHEMA + "msgspec.convert(%s, Settings, strict=True)\n" % DOC
PYDANTIC = """import mvtools.hooks
from typing import Dict, List, Literal, Optional
from pydantic import BaseModel, ConfigDict
class S(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)""" + SCHEMA + "Settings.model_validate(%s)\n" % DOC


def run(code: str, n: int) -> list[float]:
    times = []
    env = C.bench_env(C.PYCACHE.parent / "mvtools-bench-config-home")  # byte code cached, as installed
    for _ in range(n):
        times.append(C.clock(lambda: subprocess.run([sys.executable, "-c", code], check=True, env=env)))
    return times


def main() -> int:
    ap = C.parser(__doc__ or "")
    ap.add_argument("--runs", type=int, default=None, help="Python starts per row (default 30, quick 10)")
    args = ap.parse_args()
    n = args.runs or (10 if args.quick else 30)
    C.header("bench_config: the mvtools.yaml schema on the hook path", args.quick)
    run(NONE, 2)  # warm the byte-code cache
    base = run(NONE, n)
    rows = [["no schema (reference): import mvtools.hooks", str(n), C.ms(C.median(base)), C.ms(C.best(base)),
             "-", "1.00x"]]
    for label, code, module in (("dataclasses (mvtools.settings)", MVTOOLS, "mvtools"),
                                ("msgspec Structs", MSGSPEC, "msgspec"),
                                ("pydantic v2 models", PYDANTIC, "pydantic")):
        try:
            __import__(module)
        except ImportError:
            rows.append([label, "-", "not installed", "-", "-", "-"])
            continue
        run(code, 2)
        t = run(code, n)
        rows.append([label, str(n), C.ms(C.median(t)), C.ms(C.best(t)),
                     C.ms(C.median(t) - C.median(base)), C.ratio(C.median(t), C.median(base))])
    C.table([["what a hook's Python does", "n", "median", "best", "added (median)", "ratio"], *rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
