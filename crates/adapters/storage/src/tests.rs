use super::*;

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(content_type_of("1/x.PNG"), "image/png");
    assert_eq!(content_type_of("1/x.thumb.jpg"), "image/jpeg");
    assert_eq!(content_type_of("1/x.mov"), "video/quicktime");
    assert_eq!(content_type_of("1/x"), "application/octet-stream");
}
