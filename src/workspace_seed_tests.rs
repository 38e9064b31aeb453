//! Tier 1: `seed-workspace` on a real filesystem.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o7777
}

/// An image's `/sandbox`: nested dirs, an executable, a private file, a self-referential link
/// (upstream's tar copy exists for `.uv` trees like this) and a link leading out of the tree.
fn image_tree(root: &Path) {
    fs::create_dir_all(root.join(".venv/bin")).expect("dirs");
    fs::write(root.join(".venv/bin/python"), b"#!/bin/sh\n").expect("file");
    fs::set_permissions(root.join(".venv/bin/python"), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(root.join(".bashrc"), b"export PS1=sandbox\n").expect("file");
    fs::set_permissions(root.join(".bashrc"), fs::Permissions::from_mode(0o600)).expect("chmod");
    symlink(".venv", root.join(".venv/self")).expect("link");
    symlink("/etc/passwd", root.join("passwd")).expect("link");
}

#[test]
fn the_image_tree_is_copied_with_modes_and_links_as_they_are() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dest) = (tmp.path().join("sandbox"), tmp.path().join("claim"));
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dest).expect("dest");
    image_tree(&src);
    let done = seed(&src, &dest, None).expect("seed");
    assert!(!done.already);
    assert_eq!((done.dirs, done.files, done.links), (2, 2, 2));
    assert_eq!(fs::read(dest.join(".bashrc")).expect("copied"), b"export PS1=sandbox\n");
    assert_eq!(mode(&dest.join(".bashrc")), 0o600);
    assert_eq!(mode(&dest.join(".venv/bin/python")), 0o755);
    assert_eq!(
        fs::read_link(dest.join(".venv/self")).expect("link"),
        Path::new(".venv")
    );
    // Recreated, not followed: the claim holds a link, not a copy of the host's file.
    assert_eq!(
        fs::read_link(dest.join("passwd")).expect("link"),
        Path::new("/etc/passwd")
    );
    assert!(dest.join(SEEDED_MARKER).is_file());
}

#[test]
fn a_seeded_workspace_is_never_seeded_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dest) = (tmp.path().join("sandbox"), tmp.path().join("claim"));
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dest).expect("dest");
    image_tree(&src);
    seed(&src, &dest, None).expect("first seed");
    // The user's work after the first start: an edit and a removal.
    fs::write(dest.join(".bashrc"), b"mine\n").expect("edit");
    fs::remove_dir_all(dest.join(".venv")).expect("remove");
    let again = seed(&src, &dest, None).expect("second seed");
    assert!(again.already);
    assert_eq!(fs::read(dest.join(".bashrc")).expect("kept"), b"mine\n");
    assert!(!dest.join(".venv").exists());
}

#[test]
fn an_image_without_a_sandbox_directory_leaves_an_empty_seeded_workspace() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("claim");
    fs::create_dir_all(&dest).expect("dest");
    let done = seed(&tmp.path().join("absent"), &dest, None).expect("seed");
    assert_eq!((done.dirs, done.files), (0, 0));
    let names: Vec<_> = fs::read_dir(&dest)
        .expect("dest")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(SEEDED_MARKER)]);
}

#[test]
fn a_half_done_seed_is_finished_without_writing_through_what_it_left() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dest, outside) = (
        tmp.path().join("sandbox"),
        tmp.path().join("claim"),
        tmp.path().join("outside"),
    );
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dest).expect("dest");
    fs::write(&outside, b"untouched\n").expect("outside");
    image_tree(&src);
    // No marker: a seed stopped half-way, leaving a link where a file goes and a file where a
    // directory goes.
    symlink(&outside, dest.join(".bashrc")).expect("link");
    fs::write(dest.join(".venv"), b"not a dir").expect("file");
    seed(&src, &dest, None).expect("seed");
    assert_eq!(fs::read(&outside).expect("outside"), b"untouched\n");
    assert!(fs::symlink_metadata(dest.join(".bashrc")).expect("file").is_file());
    assert!(dest.join(".venv/bin/python").is_file());
}

#[test]
fn the_mount_point_takes_the_image_directory_mode() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dest) = (tmp.path().join("sandbox"), tmp.path().join("claim"));
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dest).expect("dest");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).expect("chmod");
    seed(&src, &dest, None).expect("seed");
    assert_eq!(mode(&dest), 0o750);
}

#[test]
fn an_owner_given_owns_every_copy_and_the_mount_point() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dest) = (tmp.path().join("sandbox"), tmp.path().join("claim"));
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dest).expect("dest");
    image_tree(&src);
    let done = seed(&src, &dest, Some((4242, 4343))).expect("seed");
    if !done.owners_kept {
        // Not root here: chown is refused, and the seed says so instead of failing.
        return;
    }
    for path in [
        dest.clone(),
        dest.join(".bashrc"),
        dest.join(".venv/bin"),
        dest.join("passwd"),
    ] {
        let meta = fs::symlink_metadata(&path).expect("copied");
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343), "{}", path.display());
    }
    // The mode survives the chown (which clears set-id bits).
    assert_eq!(mode(&dest.join(".bashrc")), 0o600);
}
