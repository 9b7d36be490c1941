//! What a path argument must be, checked before any work is done: an input file that
//! exists and is not a directory, an input directory that is not a file, an output file
//! whose place is not a directory and whose parents are not files. The messages say which of
//! these it is instead of the operating system's "not found" or "Is a directory" after a
//! whole training run.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A path that cannot serve as what it was given for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// Nothing is there.
    #[error("{path}: not found (expected {expected})")]
    NotFound {
        /// The path.
        path: PathBuf,
        /// "a file" or "a directory".
        expected: &'static str,
    },
    /// A directory where a file is expected.
    #[error("{path} is a directory, not a file")]
    IsDir {
        /// The path.
        path: PathBuf,
    },
    /// A file where a directory is expected.
    #[error("{path} is a file, not a directory")]
    IsFile {
        /// The path.
        path: PathBuf,
    },
    /// An output file under something that is not a directory.
    #[error("cannot write {path}: {ancestor} is a file, not a directory")]
    ParentIsFile {
        /// The output path.
        path: PathBuf,
        /// The ancestor that is a file.
        ancestor: PathBuf,
    },
}

/// `path` must be an existing file (or something readable that is not a directory).
pub fn input_file(path: &Path) -> Result<(), PathError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(PathError::IsDir {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(_) => Err(missing(path, "a file")),
    }
}

/// `path` must be an existing directory.
pub fn input_dir(path: &Path) -> Result<(), PathError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(PathError::IsFile {
            path: path.to_path_buf(),
        }),
        Err(_) => Err(missing(path, "a directory")),
    }
}

/// `path` must be writable as a file: not an existing directory, and no ancestor a file
/// (missing parent directories are fine: writers create them).
pub fn output_file(path: &Path) -> Result<(), PathError> {
    // `out/` names a directory even when none exists yet.
    let trailing = path
        .as_os_str()
        .to_string_lossy()
        .ends_with(std::path::is_separator);
    if trailing || path.is_dir() {
        return Err(PathError::IsDir {
            path: path.to_path_buf(),
        });
    }
    output_parents(path)
}

/// `path` must be usable as an output directory: not a file, and no ancestor a file.
pub fn output_dir(path: &Path) -> Result<(), PathError> {
    if path.exists() && !path.is_dir() {
        return Err(PathError::IsFile {
            path: path.to_path_buf(),
        });
    }
    output_parents(path)
}

/// No ancestor of `path` is a file.
fn output_parents(path: &Path) -> Result<(), PathError> {
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            break;
        }
        if let Ok(m) = std::fs::metadata(ancestor) {
            if m.is_dir() {
                return Ok(());
            }
            return Err(PathError::ParentIsFile {
                path: path.to_path_buf(),
                ancestor: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Not found; or, when an ancestor of `path` is a file, that ancestor is not a directory.
fn missing(path: &Path, expected: &'static str) -> PathError {
    match output_parents(path) {
        Err(PathError::ParentIsFile { ancestor, .. }) => PathError::IsFile { path: ancestor },
        _ => PathError::NotFound {
            path: path.to_path_buf(),
            expected,
        },
    }
}
