use super::*;

#[test]
fn post_links_name_the_page_and_the_post() {
    assert_eq!(
        post_url("111", "111_222"),
        "https://www.facebook.com/111/posts/222"
    );
    assert_eq!(
        post_url("111", "333"),
        "https://www.facebook.com/111/posts/333"
    );
}

#[test]
fn a_file_facebook_cannot_fetch_is_refused_with_what_to_check() {
    let e = GraphError {
        status: 400,
        code: Some(324),
        message: "(#324) Requires upload file".into(),
        ..GraphError::default()
    };
    match special(&e) {
        Some(PublishError::Rejected { code, reason }) => {
            assert_eq!(code, "facebook_media_unreachable");
            assert!(reason.contains("MULTIVIO_PUBLIC_URL"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(special(&GraphError::default()).is_none());
}

#[test]
fn created_ids_must_be_graph_ids() {
    assert_eq!(
        created_id(Created { id: "1_2".into() }),
        Some("1_2".to_owned())
    );
    assert_eq!(created_id(Created { id: "../x".into() }), None);
}
