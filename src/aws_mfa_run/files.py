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
import sys
import time

from aws_mfa_run.errors import ConfigError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
TEMPORARY_SUFFIX = ".tmp"
# An edit holds its lock for milliseconds; a fetch holds its lock while a person types a code.
# A wait longer than these means something is stuck: we say what holds the lock, never hang.
EDIT_LOCK_WAIT = 60.0
FETCH_LOCK_WAIT = 900.0
_LOCK_POLL_FIRST, _LOCK_POLL_MAX = 0.002, 0.02
# How many times an edit is made again on a file another tool changed while we wrote it, with
# a pause of up to _CHANGED_FILE_PAUSE seconds between two attempts (random, so that we do not
# keep step with a tool writing at a steady pace).
CHANGED_FILE_ATTEMPTS = 200
_CHANGED_FILE_PAUSE = 0.02


class FileChangedError(ConfigError):
    """The file changed between our read and our replacing it: the edit must be made again."""


def _oserror(path: str, error: OSError, doing: str) -> ConfigError:
    if isinstance(error, IsADirectoryError):
        return ConfigError(f"{path} is a directory, not a file; move it out of the way.")
    if error.errno == errno.EPERM:
        return ConfigError(
            f"Cannot {doing} {path}: the system forbids it (an immutable or append-only file? "
            f"lsattr shows it, chattr -i or -a undoes it)."
        )
    if isinstance(error, PermissionError):
        return ConfigError(f"Cannot {doing} {path}: permission denied.")
    if error.errno == errno.EROFS:
        return ConfigError(
            f"Cannot {doing} {path}: it is on a read-only file system (a read-only mount?)."
        )
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


def ensure_private_directories(*paths: str) -> None:
    """Create each of `paths` (in order, parents first) 0700, or refuse one that exists and is
    not the user's own or that others can write: our locks and state live there, and a lock
    another user can open is a lock they can hold forever."""
    for path in paths:
        ensure_directory(path)
        try:
            found = os.stat(path)  # through a symlink: the directory it names must be ours
        except OSError as error:
            raise _oserror(path, error, "use the directory") from None
        if found.st_uid != os.geteuid():
            raise ConfigError(
                f"{path} belongs to another user (uid {found.st_uid}), and aws-mfa-run keeps its "
                f"locks there; remove it (it is created again, private) or chown it to yourself."
            )
        if found.st_mode & 0o022:
            raise ConfigError(
                f"{path} can be written by other users (mode {stat.S_IMODE(found.st_mode):04o}), "
                f"and aws-mfa-run keeps its locks there; run `chmod 700 {path}`."
            )
        # access() reports a read-only mount (EROFS) and chattr +i (EPERM), even for root.
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(
                f"Cannot write into {path} (read-only, or not yours to write); aws-mfa-run keeps "
                "its locks and the codes it spent there."
            )


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
    The wait is bounded by `wait` seconds; then the error names the lock and who holds it.
    (A class, not @contextmanager: contextlib is not worth its import time on the warm path.)
    """

    def __init__(
        self,
        path: str,
        directory: bool = False,
        must_exist: bool = False,
        wait: float = EDIT_LOCK_WAIT,
    ) -> None:
        self.path = path
        self.directory = directory
        self.must_exist = must_exist  # a lock file that is not there is not created
        self.wait = wait
        self.fd = -1

    def __enter__(self) -> None:
        try:
            if self.directory:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                self.fd = self._open_file()
        except FileNotFoundError:
            if self.directory:
                raise ConfigError(f"Cannot write into {self.path}: it does not exist.") from None
            raise
        except OSError as error:
            raise _oserror(self.path, error, "lock") from None
        deadline = time.monotonic() + self.wait
        try:
            _flock_within(self.fd, self.path, self.wait)
            # A lock file removed (--logout) while we waited is no lock any more: a process that
            # comes later creates a new one. Lock what the name holds now.
            while not self.directory and not _same_file(self.fd, self.path):
                os.close(self.fd)
                self.fd = -1
                self.fd = self._open_file()
                _flock_within(self.fd, self.path, max(deadline - time.monotonic(), 0.0))
        except FileNotFoundError:
            if self.fd >= 0:
                os.close(self.fd)
            raise ConfigError(f"Cannot lock {self.path}: it was removed meanwhile.") from None
        except BaseException:
            if self.fd >= 0:
                os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock

    def _open_file(self) -> int:
        # O_NONBLOCK: a FIFO planted in the lock's place must not hang us at open.
        flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        flags |= 0 if self.must_exist else os.O_CREAT
        return os.open(self.path, flags, 0o600)


def _same_file(fd: int, path: str) -> bool:
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _flock_within(fd: int, path: str, wait: float) -> None:
    """flock(LOCK_EX), polled so that the wait ends after `wait` seconds with a sentence."""
    deadline = time.monotonic() + wait
    pause = _LOCK_POLL_FIRST
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise ConfigError(
                f"Waited {wait:g} seconds for the lock on {path}, held by {_lock_holder(fd)}; "
                "end that process, or run again once it is done."
            )
        time.sleep(min(pause, left))
        pause = min(pause * 2, _LOCK_POLL_MAX)


def _lock_holder(fd: int) -> str:
    """Who holds the flock on the file open as `fd`, from /proc/locks (Linux): best effort."""
    try:
        found = os.fstat(fd)
        inode = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
                    pid = fields[4]
                    return f"process {pid} (uid {_uid_of(pid)})"
    except (OSError, ValueError):
        pass
    return "another process"


def _uid_of(pid: str) -> str:
    """The real uid of process `pid`, from /proc/PID/status: the owner of /proc/PID is root for a
    process that is not dumpable (every aws-mfa-run of the full path)."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("Uid:"):
                return line.split()[1]
    raise ValueError(pid)


def locked_directory_of(path: str) -> locked:
    """A lock on the directory `path` lives in. Only for a directory of our own (0700, checked
    with ensure_private_directories): a directory others can open is one they can lock."""
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
    directory must let us create the temporary file, and the file must not be read-only.

    Mode bits are not enough: a read-only mount, chattr +i or a security module refuse a write
    the mode allows, so an existing file is opened for writing (without truncating it, which
    changes nothing) to find out for real."""
    real = os.path.realpath(path)
    pointed_into = os.path.dirname(real) or "."
    if pointed_into != os.path.dirname(os.path.abspath(path)) and not os.path.isdir(pointed_into):
        # A symlink into a directory that is gone: we create missing directories of ours, not
        # of the place a link points to.
        raise ConfigError(
            f"Cannot write {path}: it points into {pointed_into}, which does not exist."
        )
    if _writable_file(path, real) is not None:
        try:
            fd = os.open(real, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as error:
            raise _oserror(path, error, "write") from None
        os.close(fd)
    directory = os.path.dirname(real) or "."
    while not os.path.isdir(directory):  # it will be created: check where it will be
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent
    # access() reports a read-only mount (EROFS) and chattr +i (EPERM), even for root.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(
            f"Cannot write into {directory}: permission denied (or a read-only mount, or "
            "chattr +i)."
        )


def directory_of(path: str) -> str:
    return os.path.dirname(os.path.realpath(path)) or "."


def _remove_stale_temporaries(directory: str, prefix: str) -> None:
    """Temporary files a killed writer left behind. Only called under the file's edit lock, when
    no other writer of ours can be half-way through its own."""
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
    path: str,
    text: str,
    *,
    private: bool,
    locked_directory: bool = False,
    based_on: str | None = None,
) -> str | None:
    """Replace `path` (its real file, when it is a symlink) with `text`, atomically.

    An existing file keeps its mode and owner; a new one is 0600. A `private` file (one holding
    secrets) loses any group and other permission bits. Returns a note for the user when that
    happened, else None. `locked_directory`: the caller holds the file's edit lock, so
    temporaries left by a killed writer can be removed. `based_on`: the text ("" for no file)
    the edit was made from; when the file no longer holds it right before the rename (another
    tool, such as `aws configure set`, wrote it meanwhile without a lock), FileChangedError is
    raised and nothing is written: the caller makes its edit again on the new text.
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
        if based_on is not None:
            _check_unchanged(path, real, based_on)
            if current is not None and _exchange(temporary, real):
                # `temporary` now names the file we replaced. Had another tool written it after
                # our check (or opened it to write, truncating it), its change is there: put
                # that file back, and the caller edits it again.
                try:
                    _check_left_alone(path, temporary, based_on)
                except FileChangedError:
                    try:
                        _exchange(temporary, real)
                    except OSError:
                        temporary = ""  # it names the other tool's file now: never removed
                        raise
                    raise
                os.unlink(temporary)
                _fsync_directory(directory)
                return note
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


def pause_after_change() -> None:
    """Wait a moment before editing again a file another tool has just written."""
    time.sleep(_CHANGED_FILE_PAUSE * os.urandom(1)[0] / 255)


def _check_unchanged(path: str, real: str, based_on: str) -> None:
    try:
        with open(real, "rb") as handle:
            now = handle.read()
    except FileNotFoundError:
        now = b""
    if now != based_on.encode("utf-8", "surrogateescape"):
        raise _changed(path)


def _check_left_alone(path: str, name: str, based_on: str) -> None:
    """Refuse to drop the file `name` unless it still holds `based_on` and nobody has it open for
    writing: `aws configure set` truncates the file when it opens it and writes its text only
    later, so the same text as before (an empty file, read in that moment) does not prove that
    nothing is on its way.

    A read lease is refused exactly while someone has the file open for writing (Linux), and
    while we hold it nobody can open it for writing: so the lease is taken first and the text
    read under it. (Read first and leased after, a writer that finished in between went unseen
    and its whole file was dropped: hundreds of `aws configure set` updates lost under load.)"""
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        leased = _take_read_lease(path, fd)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            if b"".join(chunks) != based_on.encode("utf-8", "surrogateescape"):
                raise _changed(path)
        finally:
            if leased:
                fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    finally:
        os.close(fd)


def _take_read_lease(path: str, fd: int) -> bool:
    """Take a read lease on `fd`: True when held, False where leases are not to be had (another
    system, file system or owner); FileChangedError while someone has the file open to write."""
    lease = getattr(fcntl, "F_SETLEASE", None)
    if lease is None:
        return False
    import signal  # deferred: only a write that replaced a file gets here

    # A writer opening the file while we hold the lease makes the kernel signal us (SIGIO by
    # default, which would kill us); SIGURG is ignored unless handled, and nothing here handles it.
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, lease, fcntl.F_RDLCK)
    except OSError as error:
        if error.errno == errno.EAGAIN:
            raise _changed(path) from None
        return False  # leases are off, or not for this file system or this file's owner
    return True


def _changed(path: str) -> FileChangedError:
    return FileChangedError(
        f"{path} kept changing while aws-mfa-run was updating it (another tool writing it "
        "at the same moment); nothing was written. Run again once that tool is done."
    )


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBUSY, errno.EXDEV)


def _exchange(first: str, second: str) -> bool:
    """Swap two names in one step (Linux renameat2 with RENAME_EXCHANGE): unlike a rename, the
    replaced file keeps a name, so it can still be checked, and put back. False where the system
    or the file system cannot (the caller renames instead)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # only a write pays for it

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE):
        number = ctypes.get_errno()
        if number in _NO_EXCHANGE:
            return False
        raise OSError(number, os.strerror(number), second)
    return True


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
