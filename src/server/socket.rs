//! The driver's Unix socket: private directory, owner-only socket, peer-uid check.
//!
//! The gateway does not authenticate the driver's peers, so the socket does: only the driver's
//! own uid (and `--allow-peer-uid`) may connect, and nobody else can even reach the path.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use futures::Stream;
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("socket path {0} has no parent directory")]
    NoParent(PathBuf),
    #[error(
        "socket directory {dir} is owned by uid {owner}, not by the driver (uid {ours}); give the driver a directory of its own"
    )]
    ForeignDirectory { dir: PathBuf, owner: u32, ours: u32 },
    #[error(
        "socket directory {dir} is shared (it holds {entry:?}); the driver locks its directory to 0700, so it needs one of its own, e.g. {dir}/openshell-driver/"
    )]
    SharedDirectory { dir: PathBuf, entry: String },
    #[error("{path} exists and is not a socket owned by the driver; remove it or choose another --socket")]
    NotOurSocket { path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SocketError {
    let path = path.to_path_buf();
    move |source| SocketError::Io { action, path, source }
}

/// A bound socket; the file is removed when this is dropped, if it is still ours.
pub struct DriverSocket {
    listener: UnixListener,
    path: PathBuf,
    inode: (u64, u64),
    allowed: Vec<u32>,
}

pub fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl DriverSocket {
    /// Prepares the directory, clears a stale socket of ours, binds and locks down the socket.
    pub fn bind(path: &Path, extra_peer_uids: &[u32]) -> Result<Self, SocketError> {
        let ours = effective_uid();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or_else(|| SocketError::NoParent(path.to_path_buf()))?;
        prepare_directory(dir, path, ours)?;
        remove_stale_socket(path, ours)?;
        let listener = UnixListener::bind(path).map_err(io_err("binding", path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err("restricting", path))?;
        let meta = std::fs::metadata(path).map_err(io_err("inspecting", path))?;
        let mut allowed = vec![ours];
        allowed.extend_from_slice(extra_peer_uids);
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            inode: (meta.dev(), meta.ino()),
            allowed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepted connections whose peer uid is allowed; others are dropped and logged.
    pub fn incoming(&self) -> impl Stream<Item = io::Result<UnixStream>> + '_ {
        futures::stream::unfold(self, |socket| async move {
            loop {
                let (stream, _) = match socket.listener.accept().await {
                    Ok(s) => s,
                    Err(e) => return Some((Err(e), socket)),
                };
                match stream.peer_cred() {
                    Ok(cred) if socket.allowed.contains(&cred.uid()) => return Some((Ok(stream), socket)),
                    Ok(cred) => {
                        tracing::warn!(peer_uid = cred.uid(), peer_pid = ?cred.pid(), "refused a connection from a uid that is not allowed")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "refused a connection whose peer credentials could not be read")
                    }
                }
            }
        })
    }
}

impl Drop for DriverSocket {
    fn drop(&mut self) {
        // Only remove the file if it is still the socket we bound (not a successor's).
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.inode
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn prepare_directory(dir: &Path, socket: &Path, ours: u32) -> Result<(), SocketError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("creating", dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(io_err("inspecting", dir))?;
    if meta.uid() != ours {
        return Err(SocketError::ForeignDirectory {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            ours,
        });
    }
    // Owning a directory is not enough to chmod it: /var/run is root's too. Only a directory
    // that holds nothing but our socket is ours alone.
    let socket_name = socket.file_name();
    for entry in std::fs::read_dir(dir).map_err(io_err("reading", dir))? {
        let entry = entry.map_err(io_err("reading", dir))?;
        if Some(entry.file_name().as_os_str()) != socket_name {
            return Err(SocketError::SharedDirectory {
                dir: dir.to_path_buf(),
                entry: entry.file_name().to_string_lossy().into_owned(),
            });
        }
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err("restricting", dir))?;
    }
    Ok(())
}

fn remove_stale_socket(path: &Path, ours: u32) -> Result<(), SocketError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("inspecting", path)(e)),
        Ok(meta) if meta.file_type().is_socket() && meta.uid() == ours => {
            std::fs::remove_file(path).map_err(io_err("removing stale socket", path))
        }
        Ok(_) => Err(SocketError::NotOurSocket {
            path: path.to_path_buf(),
        }),
    }
}

use std::os::unix::fs::DirBuilderExt;
