"""Turn a submission's cells into one Python source for the sandboxed child.

Runs in the trusted parent and never executes student code: it only parses it.

Modes (the rubric chooses):

``"definitions"`` (default)
    Keep what defines the implementation, drop what runs it. Kept top-level
    statements: ``import``, ``from ... import`` (except Colab-only modules),
    ``def``, ``async def``, ``class`` (decorators and bodies whole),
    assignments to plain names whose value is a *constant expression* --
    literals, names already kept, attributes of kept names (``np.float64``),
    and containers, arithmetic, subscripts or f-strings over those -- and a
    ``try`` whose body is only such statements and whose handlers catch
    ``ImportError`` (or broader). An import that no kept statement reads (it serves
    only skipped cells: ``from IPython.display import YouTubeVideo``, a plotting
    library) is kept inside ``try: ... except ImportError: pass``, so a package the
    grading environment lacks cannot stop the graded code from loading. Everything
    else is skipped and listed:
    calls (``np.random.seed(1)``, ``net.fit(X, y)``, plots, prints), computed
    assignments (``X = np.load(...)``), loops, ``with`` blocks and every ``if``
    (``if __name__ == "__main__":`` included). A kept ``def`` or ``class`` that
    reads a global set only by a skipped statement gets a warning, since it
    will fail with a NameError in the child.
``"full"``
    Every code cell in order, as "Restart & Run All" would.

IPython syntax is rewritten into plain Python line for line, with IPython's
own ``TransformerManager`` transforms when IPython is importable (else, and
for cells with so much of it that IPython's quadratic rewriting would be slow,
an approximate regex fallback): line magics, ``!shell`` and ``x = !cmd``,
``obj?`` help, pasted ``>>>`` prompts, an indented first line. They become calls on a stand-in ``get_ipython()`` that does nothing
(``getoutput`` gives ``[]``); ``%time stmt`` becomes ``stmt``. A cell magic
``%%time`` or ``%%capture`` keeps its body; any other cell magic (``%%bash``,
``%%writefile``...) skips the cell. A prelude defines the ``get_ipython`` and
``display`` stand-ins, only when the prepared code names them.

A cell with a syntax error: in definitions mode the cell is skipped with a
note; in full mode the prepared code runs the cells before it and then raises
that SyntaxError at a line :meth:`PreparedCode.locate` maps to the cell and
line of the error, so the child reports it like any other error. Later cells
are not reached (listed as such), as in Run All.

``from __future__`` imports are moved to the top of the prepared source.
Not supported: top-level ``await`` (a SyntaxError here, unlike in IPython),
``%run`` and ``%%writefile`` (skipped, so what they would define is missing).
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import symtable
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grader.submission import CodeCell, Submission

if TYPE_CHECKING:
    from types import ModuleType

_it2: ModuleType  # IPython.core.inputtransformer2, bound by _rewriters()
_MANAGER: Any

Mode = Literal["definitions", "full"]
MODES: tuple[Mode, ...] = ("definitions", "full")
SkipKind = Literal["statement", "cell_magic", "syntax_error", "not_reached"]

# Cell magics whose body is ordinary code worth running (the magic only times/captures).
BODY_CELL_MAGICS = frozenset({"time", "capture"})
# Imports that only make sense on a hosted service; they would fail in the child.
SKIPPED_IMPORTS = {"google.colab": "Colab-only import"}
# IPython retokenizes the whole cell after each rewrite (~30 us a line): past this many
# candidate lines x cell lines (~0.3 s), the linear regex fallback rewrites the cell.
IPYTHON_BUDGET = 10_000
# Lines that may hold IPython syntax (a superset; pure-Python cells skip the rewriter).
_PROMPT = re.compile(r"^\s*(>>>|\.\.\.|In \[\d*\]:|\s*\.\.\.:)")  # pasted console prompts
_CANDIDATE = re.compile(r"^\s*[!?%,;/]|=\s*[!%]|\?\s*$")
TEXT_WIDTH = 60

_PRELUDE: dict[str, str] = {
    "get_ipython": (
        "class _GraderShell:  # grader stand-in for IPython: magics and shell do nothing\n"
        "    def run_line_magic(self, *args, **kwargs): return None\n"
        "    def run_cell_magic(self, *args, **kwargs): return None\n"
        "    def system(self, *args, **kwargs): return None\n"
        "    def getoutput(self, *args, **kwargs): return []\n"
        "    def show_usage(self): return None\n"
        "def get_ipython():\n"
        "    return _GraderShell()\n"
    ),
    "display": (
        "def display(*objs, **kwargs):  # grader stand-in for IPython's display()\n"
        "    print(*objs)\n"
    ),
}
_TIME_MAGIC = re.compile(r"^(\s*)get_ipython\(\)\.run_line_magic\('time', (.+)\)$")
_SHELL_CALL = re.compile(r"get_ipython\(\)\.(\w+)\((?:'(\w+)')?")
_SHELL_KINDS = {
    "system": "shell command, not run",
    "getoutput": "shell output, [] in the grader",
    "show_usage": "help request, does nothing",
}
_HELP_MAGICS = frozenset({"pinfo", "pinfo2", "psearch"})


@dataclass(frozen=True)
class SkipNote:
    """Something left out of the prepared source.

    ``cell`` is the CodeCell index, ``line`` the 1-based line in the cell as
    the student wrote it, ``text`` the first 60 characters of that line.
    """

    cell: int
    line: int
    text: str
    reason: str
    kind: SkipKind = "statement"
    module: bool = False

    def __str__(self) -> str:
        return f"{_where(self.cell, self.line, self.module)}: skipped, {self.reason}: `{self.text}`"


@dataclass(frozen=True)
class PreparedCode:
    """The source the child runs, and the way back to the student's cells.

    ``line_map[k]`` is the ``(cell index, line in cell)`` that line ``k + 1``
    of ``source`` came from, or ``None`` for lines the grader added.
    """

    source: str
    mode: Mode
    skipped: tuple[SkipNote, ...]
    transformed: tuple[str, ...]
    line_map: tuple[tuple[int, int] | None, ...]
    warnings: tuple[str, ...] = ()
    module: bool = False

    def locate(self, line_no: int) -> tuple[int, int] | None:
        """(cell index, line in cell) of 1-based ``line_no`` in ``source``, if the student's."""
        return self.line_map[line_no - 1] if 1 <= line_no <= len(self.line_map) else None

    def where(self, line_no: int) -> str:
        """``"cell 5, line 12"`` (or ``"line 12"`` in a module) for a line of ``source``."""
        origin = self.locate(line_no)
        return "grader prelude" if origin is None else _where(*origin, self.module)


def _where(cell: int, line: int, module: bool) -> str:
    return f"line {line}" if module else f"cell {cell + 1}, line {line}"


@dataclass
class _Cell:
    """A cell after IPython rewriting: ``lines`` (ending in "\\n") and their origin lines."""

    index: int
    original: list[str]
    lines: list[str] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    rewritten: set[int] = field(default_factory=set)  # indices into ``lines``

    def text_at(self, line: int) -> str:
        text = self.original[line - 1].strip() if 0 < line <= len(self.original) else ""
        return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


@dataclass
class _Builder:
    """Accumulates the prepared source with its line map."""

    module: bool
    header: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)
    body: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)
    skipped: list[SkipNote] = field(default_factory=list)
    transformed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # definitions mode: each kept top-level import, as its [first, stop) rows of ``body``
    imports: list[tuple[int, int, ast.Import | ast.ImportFrom]] = field(default_factory=list)

    def skip(self, cell: _Cell, line: int, reason: str, kind: SkipKind = "statement") -> None:
        self.skipped.append(
            SkipNote(cell.index, line, cell.text_at(line), reason, kind, self.module)
        )

    def emit(self, cell: _Cell, start: int, stop: int) -> None:
        """Copy transformed lines [start, stop) of ``cell``, mapped to their origin."""
        self.body.extend((cell.lines[k], (cell.index, cell.origin[k])) for k in range(start, stop))

    def build(self, mode: Mode) -> PreparedCode:
        body_text = "".join(text for text, _ in self.body)
        prelude = [
            (line + "\n", None)
            for name, code in _PRELUDE.items()
            if re.search(rf"\b{name}\b", body_text)
            for line in code.splitlines()
        ]
        rows = self.header + prelude + self.body
        return PreparedCode(
            source="".join(text for text, _ in rows),
            mode=mode,
            skipped=tuple(self.skipped),
            transformed=tuple(self.transformed),
            line_map=tuple(origin for _, origin in rows),
            warnings=tuple(self.warnings),
            module=self.module,
        )


def prepare(cells: Submission | Sequence[CodeCell], mode: Mode = "definitions") -> PreparedCode:
    """Prepare a submission's code cells for the child, in ``mode``.

    Parameters
    ----------
    cells : Submission or sequence of CodeCell
        The cells in notebook order (a module is one cell).
    mode : {"definitions", "full"}
    """
    if mode not in MODES:
        raise ValueError(f"unknown preparation mode {mode!r}; expected one of {MODES}")
    module = isinstance(cells, Submission) and cells.kind == "module"
    code_cells = cells.cells if isinstance(cells, Submission) else tuple(cells)
    out = _Builder(module)
    known = set(dir(builtins))  # names a constant expression may use
    bound_by_skipped: dict[str, tuple[int, int]] = {}
    kept_defs: list[tuple[_Cell, _Definition, str]] = []
    for position, code_cell in enumerate(code_cells):
        cell = _rewrite_ipython(code_cell, out)
        if cell is None or not "".join(cell.lines).strip():
            continue
        tree, error = _parse(cell)
        if error is not None:
            line = _error_line(cell, error)
            reason = f"{type(error).__name__}: {_message(error)}"
            if mode == "definitions":
                out.skip(cell, line, f"{reason}; whole cell skipped", "syntax_error")
                continue
            out.body.append((_raise_line(error, reason, cell, line, module), (cell.index, line)))
            out.skip(cell, line, reason, "syntax_error")
            for later in code_cells[position + 1 :]:
                first = _Cell(later.index, later.source.split("\n"))
                out.skip(
                    first,
                    1,
                    f"not reached after the SyntaxError in cell {cell.index + 1}",
                    "not_reached",
                )
            break
        assert tree is not None
        mark = len(out.body)
        if mode == "full":
            _emit_full(cell, tree, out)
        else:
            _emit_definitions(cell, tree, out, known, bound_by_skipped, kept_defs)
        if not module and len(out.body) > mark:  # a readable marker, mapped to nothing
            out.body.insert(mark, (f"# --- cell {cell.index + 1} ---\n", None))
            out.imports = [
                (first + 1, stop + 1, node) if first >= mark else (first, stop, node)
                for first, stop, node in out.imports
            ]
    if mode == "definitions":
        _warn_dangling(kept_defs, known, bound_by_skipped, out)
        _tolerate_unused_imports(out)
    return out.build(mode)


# --- IPython syntax ------------------------------------------------------------


def _rewrite_ipython(code_cell: CodeCell, out: _Builder) -> _Cell | None:
    """Rewrite IPython syntax line for line; None if a cell magic drops the cell."""
    source = code_cell.source.replace("\r\n", "\n").replace("\r", "\n")
    original = source.split("\n")
    cell = _Cell(code_cell.index, original)
    lines = [line + "\n" for line in original]
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return cell
    if lines[first].startswith("%%"):
        name = (lines[first][2:].split() or [""])[0]
        if name not in BODY_CELL_MAGICS:
            out.skip(cell, first + 1, f"cell magic %%{name} is not run by the grader", "cell_magic")
            return None
        lines[first] = "\n"
        out.transformed.append(
            f"{_where(cell.index, first + 1, out.module)}: `%%{name}` dropped, body kept"
        )
        first = next((k for k, line in enumerate(lines) if line.strip()), None)
        if first is None:
            return cell
    # IPython's cleanup: dedent by the first line's indent, strip pasted prompts.
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip(" \t"))]
    if indent:
        lines = [line[len(indent) :] if line.startswith(indent) else line for line in lines]
    origin = list(range(1, len(lines) + 1))
    # IPython's rewriters cost ~0.4 s to import: only a cell that may need them pays
    if any(_PROMPT.match(line) for line in lines[first:]):
        lines[first:] = _rewriters()[1](lines[first:])
    candidates = sum(1 for line in lines if _CANDIDATE.search(line))
    changed: list[int] = []
    if candidates * len(lines) > IPYTHON_BUDGET:
        lines, origin, changed = _regex_transform(lines, origin)
        out.transformed.append(
            f"{_where(cell.index, first + 1, out.module)}: too much IPython syntax in one cell "
            "for IPython's rewriter; rewritten approximately"
        )
    elif candidates:
        lines, origin, changed = _rewriters()[0](lines, origin)
    for k in changed:
        lines[k], note = _describe(lines[k])
        out.transformed.append(
            f"{_where(cell.index, origin[k], out.module)}: `{cell.text_at(origin[k])}` -> {note}"
        )
    cell.lines, cell.origin, cell.rewritten = lines, origin, set(changed)
    return cell


def _describe(line: str) -> tuple[str, str]:
    """Finish a rewritten line (``%time stmt`` -> ``stmt``) and say what it was."""
    timed = _TIME_MAGIC.match(line.rstrip("\n"))
    if timed:
        statement = timed.group(1) + ast.literal_eval(timed.group(2)) + "\n"
        return statement, "%time dropped, statement kept"
    call = _SHELL_CALL.search(line)
    if call is None:
        return line, "autocall rewritten as a call"
    method, magic = call.groups()
    if method == "run_line_magic":
        if magic in _HELP_MAGICS:
            return line, "help request, does nothing"
        return line, f"line magic %{magic}, does nothing in the grader"
    return line, _SHELL_KINDS.get(method, f"IPython call {method}")


def _ipython_transform(
    lines: list[str], origin: list[int]
) -> tuple[list[str], list[int], list[int]]:
    """Apply IPython's token transforms one at a time, tracking where lines came from.

    This is ``TransformerManager.do_token_transforms``; each transform replaces
    lines [start, end] with one line, which keeps the origin map exact.
    """
    changed: list[int] = []
    origin = list(origin)
    for _ in range(500):  # IPython's own cap; the budget keeps us far below it
        tokens = _it2.make_tokens_by_line(lines)
        kinds: list[Any] = _MANAGER.token_transformers
        found = [t for kind in kinds if (t := kind.find(tokens))]
        for transformer in sorted(found, key=_it2.TokenTransformBase.sortby):
            try:
                new = transformer.transform(lines)
            except SyntaxError:
                continue
            start, merged = transformer.start_line, len(lines) - len(new)
            del origin[start + 1 : start + 1 + merged]
            changed = [
                k if k < start else k - merged for k in changed if not start <= k <= start + merged
            ]
            changed.append(start)
            lines = new
            break
        else:
            return lines, origin, changed
    return lines, origin, changed


# The regex fallback: one escape per line, at a line start outside brackets (approximate).
_FALLBACK = [
    (
        re.compile(r"^(\s*)(\w+(?:\s*,\s*\w+)*\s*=\s*)!(.*)$"),
        lambda m: f"{m[1]}{m[2]}get_ipython().getoutput({m[3]!r})",
    ),
    (
        re.compile(r"^(\s*)(\w+(?:\s*,\s*\w+)*\s*=\s*)%(\w+) ?(.*)$"),
        lambda m: f"{m[1]}{m[2]}get_ipython().run_line_magic({m[3]!r}, {m[4]!r})",
    ),
    (re.compile(r"^(\s*)!!(.*)$"), lambda m: f"{m[1]}get_ipython().getoutput({m[2]!r})"),
    (re.compile(r"^(\s*)!(.*)$"), lambda m: f"{m[1]}get_ipython().system({m[2]!r})"),
    (
        re.compile(r"^(\s*)%(\w+) ?(.*)$"),
        lambda m: f"{m[1]}get_ipython().run_line_magic({m[2]!r}, {m[3]!r})",
    ),
    (
        re.compile(r"^(\s*)\?\??([\w.]+)\s*$|^(\s*)([\w.]+)\?\??\s*$"),
        lambda m: f"{m[1] or m[3] or ''}get_ipython().run_line_magic('pinfo', {m[2] or m[4]!r})",
    ),
]


def _regex_transform(lines: list[str], origin: list[int]) -> tuple[list[str], list[int], list[int]]:
    changed: list[int] = []
    depth = 0
    for k, line in enumerate(lines):
        if depth == 0 and not (k and lines[k - 1].rstrip("\n").endswith("\\")):
            for pattern, rewrite in _FALLBACK:
                match = pattern.match(line.rstrip("\n"))
                if match:
                    lines[k] = rewrite(match) + "\n"
                    changed.append(k)
                    break
        code = lines[k].split("#", 1)[0]
        depth = max(
            0, depth + sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        )
    return lines, origin, changed


def _strip_prompts_fallback(lines: list[str]) -> list[str]:
    return lines


def _ipython_strip_prompts(lines: list[str]) -> list[str]:
    return list(_it2.ipython_prompt(_it2.classic_prompt(lines)))


_Transform = Callable[[list[str], list[int]], tuple[list[str], list[int], list[int]]]


@functools.cache
def _rewriters() -> tuple[_Transform, Callable[[list[str]], list[str]]]:
    """IPython's rewriting if importable (imported on first use: ~0.3 s), else the fallback."""
    global _it2, _MANAGER
    try:
        import IPython.core.inputtransformer2 as _it2
    except ImportError:  # pragma: no cover - IPython is installed where the tests run
        return _regex_transform, _strip_prompts_fallback
    _MANAGER = _it2.TransformerManager()
    return _ipython_transform, _ipython_strip_prompts


# --- parsing -------------------------------------------------------------------


def _parse(cell: _Cell) -> tuple[ast.Module, None] | tuple[None, Exception]:
    """Parse and compile (compiling catches 'return' outside a function and the like)."""
    text = "".join(cell.lines)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings must not become errors here
            tree = ast.parse(text, filename=f"<cell {cell.index + 1}>")
            try:
                compile(tree, f"<cell {cell.index + 1}>", "exec", dont_inherit=True)
            except RecursionError:
                # Handing a Python AST back to C recurses within sys.getrecursionlimit();
                # compiling the text does not, and it is what the child will do.
                compile(text, f"<cell {cell.index + 1}>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return None, error
    return tree, None


def _error_line(cell: _Cell, error: Exception) -> int:
    lineno = getattr(error, "lineno", None) or len(cell.origin)
    return cell.origin[min(max(lineno, 1), len(cell.origin)) - 1]


def _message(error: Exception) -> str:
    if isinstance(error, (RecursionError, MemoryError)):
        return "too deeply nested or too large to compile"
    return str(getattr(error, "msg", None) or error)


def _raise_line(error: Exception, reason: str, cell: _Cell, line: int, module: bool) -> str:
    offset = getattr(error, "offset", None) or 0
    details = (_where(cell.index, line, module), line, offset, cell.text_at(line))
    return f"raise SyntaxError({reason!r}, {details!r})\n"


def _segment(node: ast.stmt) -> tuple[int, int]:
    """Transformed-line range [start, stop) of a statement, decorators included."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return start - 1, node.end_lineno or node.lineno


def _emit_statement(cell: _Cell, node: ast.stmt, out: _Builder, into: str = "body") -> str:
    """Emit exactly the statement's text (not what shares its lines after ';')."""
    start, stop = _segment(node)
    first_col = node.col_offset if start == node.lineno - 1 else 0
    pieces = []
    for k in range(start, stop):
        raw = cell.lines[k].rstrip("\n").encode()  # ast columns are UTF-8 byte offsets
        if k == stop - 1 and node.end_col_offset is not None:
            raw = raw[: node.end_col_offset]
        if k == start:
            raw = raw[first_col:]
        pieces.append(raw.decode() + "\n")
    target = out.header if into == "header" else out.body
    target.extend((text, (cell.index, cell.origin[start + i])) for i, text in enumerate(pieces))
    return "".join(pieces)


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


# --- the two modes -------------------------------------------------------------


def _emit_full(cell: _Cell, tree: ast.Module, out: _Builder) -> None:
    futures = [node for node in tree.body if _is_future(node)]
    for node in futures:  # must open the file, before the prelude
        _emit_statement(cell, node, out, into="header")
        start, stop = _segment(node)
        end = cell.lines[stop - 1].rstrip("\n").encode()[node.end_col_offset or 0 :].decode()
        cell.lines[start] = "pass" + end + "\n"  # keep what followed on its line after ';'
        for k in range(start + 1, stop):
            cell.lines[k] = "\n"
    out.emit(cell, 0, len(cell.lines))


def _emit_definitions(
    cell: _Cell,
    tree: ast.Module,
    out: _Builder,
    known: set[str],
    bound_by_skipped: dict[str, tuple[int, int]],
    kept_defs: list[tuple[_Cell, _Definition, str]],
) -> None:
    for node in tree.body:
        start = _segment(node)[0]
        line = cell.origin[start]
        try:
            reason = _skip_reason(node, known)
        except RecursionError:
            reason = "an expression too deeply nested to analyse"
        if reason and start in cell.rewritten:
            reason = "an IPython command"
        if reason is None:
            first = len(out.body)
            text = _emit_statement(cell, node, out, "header" if _is_future(node) else "body")
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not _is_future(node):
                out.imports.append((first, len(out.body), node))
            known.update(_bound_names(node))
            for name in _bound_names(node):
                bound_by_skipped.pop(name, None)
            if isinstance(node, _DEFINITIONS):
                kept_defs.append((cell, node, text))
                out.body.append(("\n", None))  # PEP 8's breathing room, for readers
        elif reason:  # "" marks a statement with no effect (a bare string, pass)
            out.skip(cell, line, reason)
            for name in _bound_names(node):
                if name not in known:
                    bound_by_skipped.setdefault(name, (cell.index, line))


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SKIP_REASONS: dict[type[ast.stmt], str] = {
    ast.Expr: "a call or expression",
    ast.Assign: "a computed assignment",
    ast.AugAssign: "an augmented assignment",
    ast.AnnAssign: "a computed assignment",
    ast.For: "a loop",
    ast.AsyncFor: "a loop",
    ast.While: "a loop",
    ast.If: "an if block",
    ast.With: "a with block",
    ast.AsyncWith: "a with block",
    ast.Try: "a try block that does more than import",
    ast.Delete: "a del statement",
    ast.Assert: "an assert",
    ast.Raise: "a raise",
}
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _skip_reason(node: ast.stmt, known: set[str]) -> str | None:
    """None to keep ``node``; else why it is skipped ("" for no-op statements)."""
    if isinstance(node, _DEFINITIONS):
        return None
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for prefix, why in SKIPPED_IMPORTS.items():
            if any(m and (m == prefix or m.startswith(prefix + ".")) for m in modules):
                return why
        return None
    if isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ):
        return ""
    if isinstance(node, ast.Assign):
        if not all(map(_is_name_target, node.targets)):
            return "an assignment to an attribute or item"
        return None if _is_constant(node.value, known) else _SKIP_REASONS[ast.Assign]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        constant = _is_constant(node.value, known) and _is_constant(node.annotation, known)
        return None if constant else _SKIP_REASONS[ast.AnnAssign]
    if isinstance(node, ast.If) and "__name__" in {
        n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)
    }:
        return "the `if __name__ == '__main__'` block"
    if isinstance(node, ast.Try) and _is_guarded_import(node, known):
        return None
    return _SKIP_REASONS.get(type(node), "not a definition")


def _is_guarded_import(node: ast.Try, known: set[str]) -> bool:
    """``try: import x`` with ``except ImportError:`` (handlers are kept whole)."""
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if caught is not None and not all(
            isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names
        ):
            return False
    trial = set(known)
    for stmt in [*node.body, *node.orelse, *node.finalbody]:
        if _skip_reason(stmt, trial) is not None:
            return False
        trial.update(_bound_names(stmt))
    return any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in node.body)


def _is_name_target(target: ast.expr) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(map(_is_name_target, target.elts))
    if isinstance(target, ast.Starred):
        return _is_name_target(target.value)
    return isinstance(target, ast.Name)


def _is_constant(node: ast.expr | None, known: set[str]) -> bool:
    """A value computable without calling anything: literals and kept names combined.

    Walked with a stack, not recursion: a long sum nests as deep as it is long.
    """
    todo: list[ast.expr | None] = [node]
    while todo:
        parts = _constant_parts(todo.pop(), known)
        if parts is None:
            return False
        todo.extend(parts)
    return True


def _constant_parts(node: ast.expr | None, known: set[str]) -> list[ast.expr | None] | None:
    """The sub-expressions that must be constant for ``node`` to be; None if it cannot be."""
    match node:
        case None | ast.Constant():
            return []
        case ast.Name(id=name):
            return [] if name in known else None
        case ast.Attribute(value=value) | ast.Starred(value=value) | ast.UnaryOp(operand=value):
            return [value]
        case ast.Tuple(elts=items) | ast.List(elts=items) | ast.Set(elts=items):
            return list(items)
        case ast.Dict(keys=keys, values=values):
            return [*keys, *values]
        case ast.BinOp(left=left, right=right) | ast.Subscript(value=left, slice=right):
            return [left, right]
        case ast.Slice(lower=lower, upper=upper, step=step):
            return [lower, upper, step]
        case ast.JoinedStr(values=items) | ast.BoolOp(values=items):
            return list(items)
        case ast.FormattedValue(value=value, format_spec=spec):
            return [value, spec]
    return None


def _bound_names(node: ast.stmt) -> set[str]:
    """Top-level names a statement binds (not those inside its functions)."""
    names: set[str] = set()
    todo: list[ast.AST] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, _SCOPES):
            continue
        if isinstance(item, _DEFINITIONS):
            names.add(item.name)
            if item is not node:
                continue
            todo.extend(getattr(item, "decorator_list", []))
            continue
        if isinstance(item, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in item.names if a.name != "*")
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif isinstance(item, ast.ExceptHandler) and item.name:
            names.add(item.name)
        todo.extend(ast.iter_child_nodes(item))
    return names


def _tolerate_unused_imports(out: _Builder) -> None:
    """Guard each kept import that nothing kept reads with ``try: ... except ImportError``.

    Such an import serves only the skipped cells (``from IPython.display import
    YouTubeVideo`` for a video, ``import seaborn`` for plots), so a package the grading
    environment lacks must not stop the functions that are graded from loading. An
    import whose names are read by a kept statement, or a ``*`` import, stays as it is:
    its failure is then reported as the environment's ("not assessed").
    """
    if not out.imports:
        return
    import_rows = {k for first, stop, _ in out.imports for k in range(first, stop)}
    rest = "".join(text for k, (text, _) in enumerate(out.body) if k not in import_rows)
    try:
        tree = ast.parse(rest)
    except (SyntaxError, RecursionError):  # cannot tell what is read: keep every import as is
        return
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    read |= {n.names[0] for n in ast.walk(tree) if isinstance(n, (ast.Global, ast.Nonlocal))}
    for first, stop, node in reversed(out.imports):  # from the end: earlier rows keep places
        if any(a.name == "*" for a in node.names) or _bound_names(node) & read:
            continue
        rows = [("    " + text, origin) for text, origin in out.body[first:stop]]
        out.body[first:stop] = [
            ("try:  # used only by statements that were not run (grader)\n", None),
            *rows,
            ("except ImportError:\n", None),
            ("    pass\n", None),
        ]


def _warn_dangling(
    kept_defs: list[tuple[_Cell, _Definition, str]],
    known: set[str],
    bound_by_skipped: dict[str, tuple[int, int]],
    out: _Builder,
) -> None:
    """Warn when a kept def/class reads a global that only a skipped statement sets."""
    if not bound_by_skipped:
        return
    for cell, node, text in kept_defs:
        used = sorted(_global_reads(text) & (bound_by_skipped.keys() - known))
        for name in used:
            set_at = _where(*bound_by_skipped[name], out.module)
            where = _where(cell.index, cell.origin[_segment(node)[0]], out.module)
            out.warnings.append(
                f"{node.name} ({where}) uses `{name}`, which only a skipped statement sets "
                f"({set_at}): it will be undefined when graded."
            )


def _global_reads(text: str) -> set[str]:
    """Global names read by a def/class statement, its defaults and its bodies."""
    try:
        top = symtable.symtable(text, "<definition>", "exec")
    except (SyntaxError, RecursionError):
        return set()
    found: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        for symbol in table.get_symbols():
            module_binding = table is top and symbol.is_assigned()
            if symbol.is_global() and symbol.is_referenced() and not module_binding:
                found.add(symbol.get_name())
        tables.extend(table.get_children())
    return found
