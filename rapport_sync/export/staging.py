"""Export files written whole or not at all.

Every export and report writes each file under a temporary name beside its final one
(``.NAME.XXXXXXXX.part``: a half-written file never carries the real name), flushes it to
the disk, and renames all of them into place only after every one was written
completely. On any failure (a full disk, a file-size limit, a read-only folder, Ctrl-C)
the temporary files and the folders this run created are removed, what was at the final
names before stays as it was, and the error is one :class:`~rapport_sync.errors.StoreError`
line that says why and which file. Ctrl-C waits while the files are renamed or removed
(milliseconds), so an export is never left half in place: pressed during the renames it
comes too late, and the export completes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from ..errors import StoreError

__all__ = ["StagedFiles", "ctrl_c_waits", "write_failure"]

_CAUSES = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
           errno.EFBIG: "file too large (the disk's or the process's file-size limit)"}


@contextlib.contextmanager
def ctrl_c_waits(then_raise: bool = True) -> Iterator[None]:
    """Hold off Ctrl-C (SIGINT) in the block; one pressed meanwhile raises
    ``KeyboardInterrupt`` after it (or, with ``then_raise=False``, is dropped)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever reach the main thread
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if pressed and then_raise:
        raise KeyboardInterrupt


def write_failure(exc: OSError) -> str:
    """Why a write failed, for one line: "disk full" rather than "[Errno 28] ..."."""
    return _CAUSES.get(exc.errno or 0) or exc.strerror or str(exc)


class StagedFiles:
    """The files of one export, staged beside their final names (see the module docstring).

    Use as a context manager; inside it, :meth:`folder` makes folders, :meth:`path` gives
    the temporary path to write a final path's content to (:meth:`open` opens it), and
    :meth:`commit` renames everything into place and returns the final paths. Leaving the
    block without :meth:`commit`, by an exception or an interrupt, removes what was staged.

    Parameters
    ----------
    target : path
        What is written (the export folder, the report file); named in error messages.
    what : str
        What it is, for error messages ("the export").
    replace : bool
        Whether an existing file at a final path is replaced (an export folder's own files)
        or refused (a report).
    protect : path, optional
        A file never to be replaced, whatever ``replace`` says: the session being exported.
    """

    def __init__(self, target: str | os.PathLike[str], what: str, replace: bool = True,
                 protect: str | os.PathLike[str] | None = None) -> None:
        self.target = Path(target)
        self.what = what
        self.replace = replace
        self.protect = Path(protect) if protect is not None else None
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)
        self._made: list[Path] = []  # folders this run created, parents first
        self._writing: Path | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()
        if isinstance(exc, OSError) and not isinstance(exc, StoreError):
            where = f" while writing {self._writing}" if self._writing else ""
            raise StoreError(f"cannot write {self.what} to {self.target}: "
                             f"{write_failure(exc)}{where}; nothing was written") from exc

    def folder(self, path: Path) -> Path:
        """``path`` as a folder, made (with its parents) if missing; returns ``path``."""
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for p in reversed(missing):  # one at a time, each known before it exists (Ctrl-C)
            self._made.append(p)
            try:
                p.mkdir()
            except OSError:
                self._made.pop()
                raise
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        return path

    def path(self, final: Path) -> Path:
        """A new empty temporary file beside ``final`` to write ``final``'s content to."""
        self.check(final)
        self.folder(final.parent)
        self._writing = final
        while True:
            tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")
            self._staged.append((tmp, final))  # known before it exists (Ctrl-C)
            try:  # mode as a plain open() gives it (the umask applies)
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except OSError as exc:
                self._staged.pop()
                if isinstance(exc, FileExistsError):
                    continue
                raise
            return tmp

    def open(self, final: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
        """The temporary file of ``final`` opened for writing (``open``'s arguments)."""
        return open(self.path(final), mode, **kwargs)  # the caller closes it

    def write_text(self, final: Path, text: str) -> None:
        """``final``'s content is ``text`` (UTF-8)."""
        with self.open(final, "w", encoding="utf-8") as fh:
            fh.write(text)

    def commit(self) -> list[Path]:
        """Flush every staged file to the disk, then rename each into place; the final paths."""
        for tmp, final in self._staged:
            self._writing = final
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)  # a full disk can show only here (delayed allocation, NFS)
            finally:
                os.close(fd)
        self._writing = None
        for tmp, final in self._staged:
            self.check(final)
        done = []
        with ctrl_c_waits(then_raise=False):  # too late to stop: the export completes
            for tmp, final in self._staged:
                if self.replace:
                    os.replace(tmp, final)
                else:
                    self._rename_new(tmp, final)
                done.append(final)
            self._staged.clear()
            self._made.clear()
        return done

    def discard(self) -> None:
        """Remove the staged files and the folders made for them."""
        with ctrl_c_waits():
            for tmp, _ in self._staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            self._staged.clear()
            for folder in reversed(self._made):
                with contextlib.suppress(OSError):  # not empty: someone else put a file there
                    folder.rmdir()
            self._made.clear()

    def check(self, final: Path) -> None:
        """Refuse ``final`` now if it may not be written (before any slow work)."""
        if not (final.exists() or final.is_symlink()):
            return
        if not self.replace:
            raise StoreError(f"{final} already exists; choose another --out")
        if self.protect is not None and final.exists() and final.samefile(self.protect):
            raise StoreError(f"{final} is the session being exported; choose another --out")

    def _rename_new(self, tmp: Path, final: Path) -> None:
        """Rename without replacing a file made meanwhile (a hard link fails if it exists)."""
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise StoreError(f"{final} already exists; choose another --out") from None
        except OSError:  # a file system without hard links
            self.check(final)
            os.replace(tmp, final)
            return
        tmp.unlink()
