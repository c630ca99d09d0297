use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

#[test]
fn a_directory_below_a_private_one_is_unreachable_for_another_user() {
    let base = std::env::temp_dir().join(format!("multivio-reach-{}", std::process::id()));
    let inner = base.join("inner");
    fs::create_dir_all(&inner).unwrap();
    let stranger = fs::metadata(&base).unwrap().uid() + 4242;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).unwrap();
    let err = check_reachable(&inner, stranger).unwrap_err();
    assert!(
        matches!(&err, ClusterError::Unreachable(p) if p.ends_with(base.file_name().unwrap())),
        "{err}"
    );
    assert!(err.to_string().contains("MULTIVIO_DATA_DIR"));
    fs::set_permissions(&base, fs::Permissions::from_mode(0o711)).unwrap();
    check_reachable(&inner, stranger).unwrap();
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn missing_binaries_say_what_to_install() {
    assert!(
        ClusterError::BinariesMissing
            .to_string()
            .contains("apt-get install -y postgresql")
    );
}
