"""What a .pt2 program may contain before ``torch.export.load`` is allowed to see it.

``torch.export.load`` is not a safe loader: it falls back to ``torch.load(weights_only=False)`` for
pickled payloads, unpickles custom objects, loads compiled AOTInductor libraries, and parses the
graph's symbolic shape expressions with ``sympy.sympify`` (Python ``eval``). A bundle is therefore
accepted only if its archive holds the plain layout (JSON graph, raw tensor bytes), nothing is
pickled but the example inputs (checked with ``weights_only=True`` first, so torch's own first try
succeeds), every graph node calls an allowed operator, and every shape expression is made of
symbol names, numbers, arithmetic and a fixed list of sympy functions.
"""

from __future__ import annotations

import re
import zipfile
from typing import Any

from ..errors import CheckpointError, UnsafeFileError
from .safety import check_shape, load_weights_only, open_zip, parse_json, read_member

# Member paths inside the archive's top folder.
ALLOWED_MEMBERS = re.compile(
    r"(archive_format|archive_version|byteorder|version|\.data/version|\.data/serialization_id"
    r"|models/model\.json|extra/[\w.\-]+"
    r"|data/weights/model_weights_config\.json|data/weights/weight_\d+"
    r"|data/constants/model_constants_config\.json|data/constants/tensor_\d+"
    r"|data/sample_inputs/model\.pt)"
)
OPERATORS = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs", "eq", "ne", "lt", "le",
             "gt", "ge", "and_", "or_", "xor", "not_", "invert", "getitem"}
HIGHER_ORDER = {"cond", "while_loop", "wrap_with_set_grad_enabled", "wrap_with_autocast"}
DENIED_ATEN = {"from_file", "_from_file"}  # reads (and with shared=True writes) files
ALLOWED_TARGET = re.compile(
    r"torch\.ops\.(aten|prims)\.(?P<op>\w+)(\.\w+)?|torch\.ops\.higher_order\.(?P<hop>\w+)"
    r"|_operator\.(?P<operator>\w+)|math\.\w+|torch\._?sym_\w+"
)
EXPRESSION_NAMES = {
    "Symbol", "Integer", "Rational", "Float", "Max", "Min", "Abs", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or",
    "Not", "True", "False", "oo", "int_oo", "positive", "negative", "integer", "real", "finite", "nonnegative",
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv",
    "LShift", "RShift", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat",
    "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity",
}
EXPRESSION_TOKEN = re.compile(
    r"\s+|\d{1,19}(\.\d{1,19})?(e-?\d{1,3})?|'[a-z]{1,3}\d{1,6}'|[A-Za-z_]\w*|//|[-+*/%(),=<>!]=?"
)
SYMBOL_NAME = re.compile(r"[a-z]{1,3}\d{1,6}")
MAX_EXPRESSION = 1000


def check_expression(text: str, what: str) -> None:
    """A symbolic shape expression must be plain arithmetic over symbols: it is handed to sympify."""
    position = 0
    if len(text) > MAX_EXPRESSION or "**" in text:
        raise UnsafeFileError(f"{what}: a shape expression is too long or uses powers; refused")
    while position < len(text):
        token = EXPRESSION_TOKEN.match(text, position)
        if token is None:
            raise UnsafeFileError(f"{what}: shape expression {text[:60]!r} is not plain arithmetic; refused")
        word = token.group(0)
        if word[0].isalpha() or word[0] == "_":
            if word not in EXPRESSION_NAMES and not SYMBOL_NAME.fullmatch(word):
                raise UnsafeFileError(f"{what}: shape expression uses {word[:40]!r}, which is not allowed; refused")
        position = token.end()


def check_target(target: str, what: str) -> None:
    match = ALLOWED_TARGET.fullmatch(target)
    if (match is None or match.group("op") in DENIED_ATEN
            or (match.group("hop") and match.group("hop") not in HIGHER_ORDER)
            or (match.group("operator") and match.group("operator") not in OPERATORS)):
        raise UnsafeFileError(f"{what}: the graph calls {target[:80]!r}, which GenLoupe does not run from a file")


def _check_graph(node: Any, what: str) -> None:
    """Walk the serialized program: every node target and every shape expression, nested graphs included."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "target" in item:
                if not isinstance(item["target"], str):
                    raise CheckpointError(f"{what}: malformed graph node")
                check_target(item["target"], what)
            if "expr_str" in item:
                if not isinstance(item["expr_str"], str):
                    raise CheckpointError(f"{what}: malformed shape expression")
                check_expression(item["expr_str"], what)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_payloads(archive: zipfile.ZipFile, name: str, prefix: str, what: str) -> None:
    """Weights and constants must be raw tensor bytes, never pickles; their declared sizes bounded."""
    config = parse_json(read_member(archive, name, what), f"{what}: {name}")
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise CheckpointError(f"{what}: {name} is malformed")
    for key, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("use_pickle") is not False \
                or not re.fullmatch(prefix + r"_\d+", str(entry.get("path_name"))):
            raise UnsafeFileError(f"{what}: {key!r} is stored as a pickled object; {what} is refused")
        sizes = (entry.get("tensor_meta") or {}).get("sizes")
        if not isinstance(sizes, list) or not all(isinstance(s, dict) and "as_int" in s for s in sizes):
            raise CheckpointError(f"{what}: {key!r} has no static shape")
        check_shape([s["as_int"] for s in sizes], f"{what}: {key!r}")


def check_pt2(data: bytes, what: str, depth: int = 0) -> None:
    """Raise UnsafeFileError / CheckpointError unless ``data`` is a .pt2 archive GenLoupe may load.

    ``depth`` counts the archives the program was read out of (a bundle .zip), for the nesting cap.
    """
    archive = open_zip(data, what, depth=depth)
    names = [n for n in archive.namelist() if not n.endswith("/")]
    roots = {n.split("/", 1)[0] for n in names}
    if len(roots) != 1 or any("/" not in n for n in names):
        raise CheckpointError(f"{what}: not a torch.export program archive (expected one top folder)")
    root = roots.pop() + "/"
    for name in names:
        if not ALLOWED_MEMBERS.fullmatch(name[len(root):]):
            raise UnsafeFileError(f"{what}: holds {name[len(root):]!r} (compiled code, pickled objects or a legacy "
                                  "layout), which GenLoupe does not load; export with torch.export.save")
    for member in ("models/model.json", "data/weights/model_weights_config.json",
                   "data/constants/model_constants_config.json"):
        if root + member not in names:
            raise CheckpointError(f"{what}: not a torch.export program archive (no {member})")
    _check_payloads(archive, root + "data/weights/model_weights_config.json", "weight", what)
    _check_payloads(archive, root + "data/constants/model_constants_config.json", "tensor", what)
    if root + "data/sample_inputs/model.pt" in names:
        load_weights_only(read_member(archive, root + "data/sample_inputs/model.pt", what), f"{what}: example inputs")
    _check_graph(parse_json(read_member(archive, root + "models/model.json", what), f"{what}: graph",
                            limit=64 << 20), what)
