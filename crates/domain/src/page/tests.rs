use super::*;

#[test]
fn sizes_are_clamped_not_refused() {
    assert_eq!(PageSize::new(None).get(), 20);
    assert_eq!(PageSize::new(Some(0)).get(), 1);
    assert_eq!(PageSize::new(Some(7)).get(), 7);
    assert_eq!(PageSize::new(Some(100)).get(), 100);
    assert_eq!(PageSize::new(Some(u32::MAX)).get(), 100);
}
