"""What every ``ffnn`` subcommand shares: exit statuses, the error type and the one
place that turns bad input into a two-line message with exit status 2, the parser,
the backend/thread options, model loading and memory estimates."""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any

from backends import KNOWN_BACKENDS, Backend, BackendUnavailableError, backend_status, get_backend, gpu_available

from .. import _argtypes as argtypes
from .._files import check_target

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A failure the command reports in one or two lines, with its exit status.

    Parameters
    ----------
    message : str
        What went wrong, naming the bad value.
    hint : str, optional
        The way out, printed on a second line.
    code : int
        :data:`EXIT_USAGE` (2, the default) or :data:`EXIT_FAILURE` (1).
    """

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


#: Exceptions that mean "the input (a value, a file, the data, its size) is bad":
#: each becomes a usage error (exit 2) with the exception's own message.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeDecodeError
    TypeError,
    OSError,
    csv.Error,
    OverflowError,
    MemoryError,
    BackendUnavailableError,
)


def data_error(exc: BaseException) -> CommandError:
    """The usage error (exit 2) that reports ``exc``, without the exception's name."""
    if isinstance(exc, MemoryError):
        detail = str(exc) or "an allocation failed"
        return CommandError(f"not enough memory: {detail}", hint="use smaller sizes or less data")
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return CommandError(f"{exc.filename}: {exc.strerror}")
    return CommandError(str(exc) or "bad input")


@contextlib.contextmanager
def usage() -> Iterator[None]:
    """Report bad input (values, files, data, sizes, backends) as usage errors, exit 2.

    The one mechanism for data errors: the readers and the library raise
    :data:`DATA_ERRORS` with a message naming the file and the problem; this turns
    them into a :class:`CommandError`.
    """
    try:
        yield
    except CommandError:
        raise
    except DATA_ERRORS as exc:
        raise data_error(exc) from exc


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are two short lines, exit status 2, and
    that does not accept abbreviated option names (a typo is reported, with the
    closest option, instead of silently picking a longer option)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        #: Options to suggest for a flag this command does not take, beyond the
        #: closest spellings (e.g. train: --output → --save).
        self.see_also: dict[str, tuple[str, ...]] = {}

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n{self.prog}: hint: see {self.prog} --help\n")

    def option_names(self) -> list[str]:
        """Every long option string this parser takes (hidden aliases excluded)."""
        return [
            s
            for action in self._actions
            if action.help != argparse.SUPPRESS
            for s in action.option_strings
            if s.startswith("--")
        ]


def suggest(parser: Parser, unknown: Sequence[str]) -> str:
    """'unrecognized arguments …' with the closest option of ``parser`` for each typo."""
    known = [name for name in parser.option_names() if name != "--help"]
    parts = []
    for token in unknown:
        name = token.split("=", 1)[0]
        close: list[str] = []
        if name.startswith("--"):
            close = [k for k in known if k.startswith(name)][:2]
            close = close or difflib.get_close_matches(name, known, n=2, cutoff=0.6)
            close += [k for k in parser.see_also.get(name, ()) if k not in close]
        parts.append(f"{token} (did you mean {' or '.join(close)}?)" if close else token)
    return "unrecognized arguments: " + " ".join(parts)


# ---------------------------------------------------------------------- options
def add_backend_options(parser: argparse.ArgumentParser, *, dtype: bool, devices: bool = True) -> None:
    """--backend, --device, --threads (and --dtype)."""
    group = parser.add_argument_group("backend")
    if devices:
        group.add_argument("--backend", choices=KNOWN_BACKENDS, default="auto", help="array library (default: auto)")
        group.add_argument(
            "--device", type=argtypes.device, default=None, help="cpu, gpu or cuda:N (default: the backend's)"
        )
    if dtype:
        group.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: float32)")
    add_threads_option(group)


def add_threads_option(group: Any) -> None:
    """Add ``--threads N`` (BLAS/OpenMP and torch pools, via backends.set_threads) to ``parser``."""
    group.add_argument(
        "--threads",
        type=argtypes.positive_int,
        default=None,
        metavar="N",
        help="CPU threads of the BLAS and torch pools (default: the libraries' own; "
        "1 or 2 is often fastest for small networks on a shared machine)",
    )


def apply_threads(n: int | None) -> None:
    """Limit the BLAS/OpenMP thread pools (threadpoolctl) and the backends' own pools
    to ``n`` threads for the rest of the process; None leaves them alone."""
    if n is None:
        return
    import backends

    setter = getattr(backends, "set_threads", None)
    if setter is not None:
        setter(n)
    from threadpoolctl import threadpool_limits

    global _LIMITS
    _LIMITS = threadpool_limits(limits=n)  # kept alive: the limit lasts until the process ends


_LIMITS: Any = None


def select_backend(name: str, device: str | None, threads: int | None = None) -> Backend:
    """The backend for ``--backend``/``--device`` (with ``--threads`` applied after its
    library is loaded); a GPU request without a GPU is a usage error."""
    try:
        backend = get_backend(name, device)
    except BackendUnavailableError as exc:
        wants_gpu = name == "cupy" or (device or "cpu") != "cpu"
        if wants_gpu and name in ("numpy", "array_api_strict"):
            msg = f"--backend {name} runs on the CPU only, not on --device {device}"
            raise CommandError(msg, hint="use --device cpu, or --backend auto, cupy or torch for a GPU") from exc
        if wants_gpu and not gpu_available("cupy" if name == "auto" else name):
            status = None if name == "auto" else backend_status(name)
            why = status.reason if status is not None and not status.installed else "no usable CUDA device was found"
            flags = f"--backend {name}" + (f" --device {device}" if device else "")
            hint = "run on the CPU with --backend numpy or --backend auto" + (", without --device" if device else "")
            raise CommandError(f"{flags} needs a CUDA GPU, but none is usable here: {why}", hint=hint) from exc
        raise CommandError(str(exc)) from exc
    apply_threads(threads)
    return backend


def check_new_file(path: str, overwrite: bool, option: str) -> None:
    """Refuse to replace an existing file unless ``--overwrite``; the folder must exist."""
    try:
        check_target(path, replace=overwrite)
    except FileExistsError as exc:
        raise CommandError(f"{option}: {exc}", hint="choose another name, or pass --overwrite to replace it") from exc
    except OSError as exc:
        raise CommandError(f"{option}: {exc}") from exc


def load_model(path: str, backend: str, device: str | None, threads: int | None = None) -> Any:
    """The network saved at ``path``, on the chosen backend; any problem is exit 2."""
    from ..serialization import load

    if not os.path.isfile(path):
        raise CommandError(
            f"model file {path!r} not found" if not os.path.exists(path) else f"model {path!r} is not a file"
        )
    target = select_backend(backend, device, threads)
    with usage():
        return load(path, backend=target)


# ---------------------------------------------------------------------- sizes
def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**28 else f"{n_bytes / 2**20:.0f} MiB"


def available_memory() -> int | None:
    """This machine's physical memory in bytes, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_network_size(sizes: Sequence[int], rows: int, itemsize: int, copies: int, option: str) -> None:
    """Refuse, before allocating, a network whose parameters (× ``copies``: weights,
    gradients, optimizer state) and activations for ``rows`` examples need more memory
    than the machine has, saying how much it would need."""
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    need = (params * copies + 2 * rows * sum(sizes)) * itemsize
    have = available_memory()
    if have is not None and need > have:
        msg = (
            f"{option}: a {'-'.join(map(str, sizes))} network has {params:,} parameters and would need about "
            f"{_gib(need)} of memory, more than this machine's {_gib(have)}"
        )
        raise CommandError(msg, hint="use smaller layer sizes")


# ---------------------------------------------------------------------- text
def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def describe(net: Any) -> str:
    """'4-16-3 relu → softmax, categorical_crossentropy'."""
    sizes = "-".join(str(n) for n in (net.n_in, *(la.n_out for la in net.layers)))
    hidden = net.layers[0].activation.name if len(net.layers) > 1 else ""
    return f"{sizes} {hidden + ' → ' if hidden else ''}{net.layers[-1].activation.name}, {net.loss.name}"


def add_model_command(subparsers: Any, name: str, run: Any, options: Any, **texts: str) -> argparse.ArgumentParser:
    """Register ``ffnn NAME MODEL``: a command on a saved model with its own ``options``,
    then the backend options."""
    parser = subparsers.add_parser(name, **texts)
    parser.add_argument("model", metavar="MODEL", help="a model file written by ffnn train --save")
    options(parser)
    add_backend_options(parser, dtype=False)
    parser.set_defaults(func=run)
    return parser


# ---------------------------------------------------------------------- closed pipes
class _PipeGuard:
    """A stdout stand-in that stops writing, silently, once the reader went away
    (``ffnn info | head -1``): the command still finishes and returns its own status."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._close()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self) -> None:
        self.broken = True
        # Later flushes (at interpreter exit) must not fail either: point the file
        # descriptor at /dev/null.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def pipe_guard() -> Iterator[None]:
    """Run with stdout guarded against a closed pipe (see :class:`_PipeGuard`)."""
    import sys

    original = sys.stdout
    guard = _PipeGuard(original)
    sys.stdout = guard
    try:
        yield
        guard.flush()
    except BrokenPipeError:
        guard._close()
    finally:
        sys.stdout = original
