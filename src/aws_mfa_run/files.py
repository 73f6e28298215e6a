"""Reading and writing the user's files: atomic, locked, mode-keeping.

A write goes to a new temporary file in the same directory (created exclusively, so a planted
symlink is never followed), is fsynced, gets the original's mode and owner, and is renamed over
the original: a reader sees the old file or the new one, never a torn one, and a crash leaves the
original intact. A symlinked file stays a symlink; its target is what gets replaced.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from aws_mfa_run.errors import ConfigError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TEMPORARY_SUFFIX = ".tmp"


def _oserror(path: str, error: OSError, doing: str) -> ConfigError:
    if isinstance(error, IsADirectoryError):
        return ConfigError(f"{path} is a directory, not a file; move it out of the way.")
    if isinstance(error, PermissionError):
        return ConfigError(f"Cannot {doing} {path}: permission denied.")
    reason = error.strerror or type(error).__name__
    return ConfigError(f"Cannot {doing} {path}: {reason[0].lower()}{reason[1:]}.")


def read_text(path: str) -> str | None:
    """The file's text, or None when there is no file (a dangling symlink counts as none).

    Bytes that are not UTF-8 survive a read and a write unchanged (surrogateescape).
    """
    try:
        # O_NONBLOCK: a FIFO planted in the file's place must not hang us at open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _oserror(path, error, "read") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path} is a directory, not a file; move it out of the way.")
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path} is not a regular file; move it out of the way.")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            data = handle.read()
    except OSError as error:
        raise _oserror(path, error, "read") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if b"\x00" in data:
        raise ConfigError(
            f"{path} is not a text file (it holds NUL bytes); move it out of the way."
        )
    return data.decode("utf-8", "surrogateescape")


def ensure_directory(path: str) -> None:
    """Create `path` and missing parents as private directories (0700, whatever the umask)."""
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR_MODE)
            os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
        except FileExistsError:
            if not os.path.isdir(directory):
                raise ConfigError(f"{directory} is a file, not a directory.") from None
        except OSError as error:
            raise _oserror(directory, error, "create the directory") from None


class locked:
    """Hold an exclusive lock on `path` in a `with` block: a lock file of ours (created when
    missing) or, with `directory=True`, an existing directory (never created here).

    flock locks vanish with the process, so a Ctrl-C or a kill never leaves a stale lock behind.
    (A class, not @contextmanager: contextlib is not worth its import time on the warm path.)
    """

    def __init__(self, path: str, directory: bool = False, must_exist: bool = False) -> None:
        self.path = path
        self.directory = directory
        self.must_exist = must_exist  # a lock file that is not there is not created
        self.fd = -1

    def __enter__(self) -> None:
        try:
            if self.directory:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
                flags |= 0 if self.must_exist else os.O_CREAT
                self.fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            if self.directory:
                raise ConfigError(f"Cannot write into {self.path}: it does not exist.") from None
            raise
        except OSError as error:
            raise _oserror(self.path, error, "lock") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock


def locked_directory_of(path: str) -> locked:
    """The lock to hold while editing `path`: on the directory its real file lives in.

    Renaming replaces the file itself, so the file cannot carry the lock; its directory can, and
    locking it leaves no lock file behind in the user's ~/.aws.
    """
    return locked(directory_of(path), directory=True)


def _writable_file(path: str, real: str) -> os.stat_result | None:
    """The stat of the file `path` (real path `real`) we are about to replace, None when there is
    none; refused when it is not a regular file or the user made it read-only."""
    try:
        current = os.stat(real)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _oserror(path, error, "write") from None
    if not stat.S_ISREG(current.st_mode):
        raise ConfigError(f"{path} is not a regular file; move it out of the way.")
    # A file the user made read-only is a decision of theirs; `aws configure set` respects it
    # too. (As root, os.access would say yes whatever the mode: the mode bits are what count.)
    if not current.st_mode & stat.S_IWUSR:
        raise ConfigError(
            f"{path} is read-only (mode {stat.S_IMODE(current.st_mode):04o}); make it writable "
            f"(chmod u+w) to let aws-mfa-run update it."
        )
    return current


def check_writable(path: str) -> None:
    """Fail before anything is spent (an MFA code) when `path` could not be written: its
    directory must let us create the temporary file, and the file must not be read-only."""
    real = os.path.realpath(path)
    _writable_file(path, real)
    directory = os.path.dirname(real) or "."
    while not os.path.isdir(directory):  # it will be created: check where it will be
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"Cannot write into {directory}: permission denied.")


def directory_of(path: str) -> str:
    return os.path.dirname(os.path.realpath(path)) or "."


def _remove_stale_temporaries(directory: str, prefix: str) -> None:
    """Temporary files a killed writer left behind. Only called under the directory lock, when
    no other writer can be half-way through its own."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(TEMPORARY_SUFFIX):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def write_atomic(
    path: str, text: str, *, private: bool, locked_directory: bool = False
) -> str | None:
    """Replace `path` (its real file, when it is a symlink) with `text`, atomically.

    An existing file keeps its mode and owner; a new one is 0600. A `private` file (one holding
    secrets) loses any group and other permission bits. Returns a note for the user when that
    happened, else None. `locked_directory`: the caller holds `locked_directory_of(path)`, so
    temporaries left by a killed writer can be removed.
    """
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    note = None
    current = _writable_file(path, real)
    mode = stat.S_IMODE(current.st_mode) if current is not None else PRIVATE_FILE_MODE
    if private and mode & 0o077:
        note = f"Made {path} private ({mode:04o} -> {mode & 0o700:04o}): it holds secret keys."
        mode &= 0o700
    prefix = f".{os.path.basename(real)}.aws-mfa-run-"
    if locked_directory:
        _remove_stale_temporaries(directory, prefix)
    try:
        fd, temporary = _new_temporary(directory, prefix)
    except OSError as error:
        raise _oserror(path, error, "write") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if current is not None and hasattr(os, "fchown"):
                try:
                    os.fchown(handle.fileno(), current.st_uid, current.st_gid)
                except PermissionError:
                    pass  # not ours to give away unless we are root: the new file stays ours
            os.fsync(handle.fileno())
        try:
            os.replace(temporary, real)
        except OSError as error:
            if error.errno not in (errno.EBUSY, errno.EXDEV) or current is None:
                raise
            # A single file bind-mounted into a container cannot be renamed over. We hold the
            # lock, so rewriting it in place loses no other writer's change; only a crash in
            # the middle could leave it torn, which the user is told.
            _rewrite_in_place(real, text, mode)
            os.unlink(temporary)
            moved = (
                f"{path} cannot be replaced atomically (a bind mount?); it was rewritten in place."
            )
            note = f"{note} {moved}" if note else moved
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise _oserror(path, error, "write") from None
        raise
    _fsync_directory(directory)
    return note


def _rewrite_in_place(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, mode)
        data = text.encode("utf-8", "surrogateescape")
        os.ftruncate(fd, 0)
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_temporary(directory: str, prefix: str) -> tuple[int, str]:
    """A new private file beside the target, as tempfile.mkstemp makes one.

    Not tempfile itself: it imports random, hashlib and shutil (~3 ms), paid by every fetch.
    """
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{TEMPORARY_SUFFIX}")
        try:
            return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
