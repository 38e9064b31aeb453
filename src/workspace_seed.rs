//! The launcher's `seed-workspace SRC DEST`: copies the image's `/sandbox` into a fresh
//! workspace volume once, so an empty claim or emptyDir mounted over `/sandbox` does not hide
//! what the image put there (a venv, dotfiles, skills). The image needs no shell or tar.
//!
//! Directories, regular files and symbolic links are copied; links are recreated, never
//! followed, so nothing outside `SRC` is read and nothing outside `DEST` is written. Owners
//! and modes are kept where the process may set them (root with CHOWN); elsewhere (a
//! platform-assigned UID) the copies are the process's own. A marker file, written last,
//! makes every later start (after a stop, on another node) a no-op: the workspace is the
//! user's from then on. std only: it is compiled into the static launcher.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::Path;

/// Upstream's marker, so a claim seeded by upstream's driver is not seeded again.
pub const SEEDED_MARKER: &str = ".workspace-initialized";

/// What a seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// The marker was there: nothing was copied.
    pub already: bool,
    pub dirs: u64,
    pub files: u64,
    pub links: u64,
    pub bytes: u64,
    /// Sockets, FIFOs and devices: not copied.
    pub skipped: u64,
    /// Whether the owners could be set.
    pub owners_kept: bool,
    /// Set instead of the image's owners.
    pub owner: Option<(u32, u32)>,
}

/// `owner`: the UID and GID every copy (and the mount point) gets instead of the image's: the
/// platform's sandbox user where it is not the image's (OpenShift's namespace range).
pub fn seed(source: &Path, dest: &Path, owner: Option<(u32, u32)>) -> io::Result<Seeded> {
    let marker = dest.join(SEEDED_MARKER);
    if fs::symlink_metadata(&marker).is_ok() {
        return Ok(Seeded {
            already: true,
            ..Default::default()
        });
    }
    let mut done = Seeded {
        owners_kept: true,
        owner,
        ..Default::default()
    };
    // The image's /sandbox itself may be a link (followed here only) or absent.
    let root = match fs::metadata(source) {
        Ok(meta) if meta.is_dir() => {
            copy_dir_contents(source, dest, &mut done)?;
            Some(meta)
        }
        Ok(_) => fs::metadata(dest).ok().filter(|_| owner.is_some()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::metadata(dest).ok().filter(|_| owner.is_some()),
        Err(e) => return Err(with_path(e, source)),
    };
    fs::write(&marker, b"seeded by openshell-launcher\n").map_err(|e| with_path(e, &marker))?;
    // The mount point last (the marker may need its write bit): a volume root the process
    // does not own keeps the kubelet's owner and mode.
    if let Some(meta) = root {
        match keep_owner_and_mode(dest, &meta, &mut done) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => other?,
        }
    }
    Ok(done)
}

fn copy_dir_contents(source: &Path, dest: &Path, done: &mut Seeded) -> io::Result<()> {
    for entry in fs::read_dir(source).map_err(|e| with_path(e, source))? {
        let entry = entry.map_err(|e| with_path(e, source))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&from).map_err(|e| with_path(e, &from))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            make_dir(&to)?;
            copy_dir_contents(&from, &to, done)?;
            keep_owner_and_mode(&to, &meta, done)?;
            done.dirs += 1;
        } else if kind.is_file() {
            // An earlier seed that stopped half-way may have left anything here; never write
            // through a link.
            remove_non_dir(&to)?;
            done.bytes += fs::copy(&from, &to).map_err(|e| with_path(e, &from))?;
            keep_owner_and_mode(&to, &meta, done)?;
            done.files += 1;
        } else if kind.is_symlink() {
            remove_non_dir(&to)?;
            let target = fs::read_link(&from).map_err(|e| with_path(e, &from))?;
            symlink(&target, &to).map_err(|e| with_path(e, &to))?;
            chown(&to, &meta, done)?;
            done.links += 1;
        } else {
            done.skipped += 1;
        }
    }
    Ok(())
}

fn make_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(path).map_err(|e| with_path(e, path))?;
            fs::create_dir(path).map_err(|e| with_path(e, path))
        }
        Err(_) => fs::create_dir(path).map_err(|e| with_path(e, path)),
    }
}

fn remove_non_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).map_err(|e| with_path(e, path)),
        Ok(_) => fs::remove_file(path).map_err(|e| with_path(e, path)),
        Err(_) => Ok(()),
    }
}

/// Owner first: the kernel clears set-id bits on chown, so the mode is set after it.
fn keep_owner_and_mode(path: &Path, meta: &fs::Metadata, done: &mut Seeded) -> io::Result<()> {
    chown(path, meta, done)?;
    let mode = meta.permissions().mode() & 0o7777;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| with_path(e, path))
}

fn chown(path: &Path, meta: &fs::Metadata, done: &mut Seeded) -> io::Result<()> {
    if !done.owners_kept {
        return Ok(());
    }
    let (uid, gid) = done.owner.unwrap_or((meta.uid(), meta.gid()));
    match lchown(path, Some(uid), Some(gid)) {
        Ok(()) => Ok(()),
        // Not root (a platform-assigned UID): the copies stay the process's own, which is the
        // UID the agent runs as there.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            done.owners_kept = false;
            Ok(())
        }
        Err(e) => Err(with_path(e, path)),
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
#[path = "workspace_seed_tests.rs"]
mod tests;
