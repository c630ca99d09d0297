use super::*;

#[test]
fn debug_output_hides_the_password() {
    let settings = PoolSettings::new("postgres://multivio_api_login:s3cr3t-pw@db:5432/app");
    let shown = format!("{settings:?}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
    assert!(shown.contains("multivio_api_login"), "{shown}");
    assert!(!format!("{:?}", PoolSettings::new("not a url s3cr3t")).contains("s3cr3t"));
}
