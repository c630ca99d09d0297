use super::*;

#[test]
fn media_urls_are_judged_by_their_file_extension() {
    assert_eq!(url_kind("https://cdn.example/a/b.JPG"), Some("image"));
    assert_eq!(url_kind("http://localhost/media/1/x.png"), Some("image"));
    assert_eq!(url_kind("https://cdn.example/v.mov?sig=1"), Some("video"));
    assert_eq!(url_kind("https://cdn.example/g.gif"), Some("gif"));
    assert_eq!(url_kind("https://cdn.example/doc.pdf"), None);
    assert_eq!(url_kind("ftp://cdn.example/a.jpg"), None);
    assert_eq!(url_kind("/media/a.jpg"), None);
}

#[test]
fn fields_are_split_at_the_top_level_only() {
    let params: HashMap<String, String> = [(
        "fields".to_owned(),
        "id, name,instagram_business_account{id,username},tasks".to_owned(),
    )]
    .into();
    assert_eq!(
        fields(&params, "id"),
        [
            "id",
            "name",
            "instagram_business_account{id,username}",
            "tasks"
        ]
    );
    assert_eq!(fields(&HashMap::new(), "id,name"), ["id", "name"]);
}

#[test]
fn a_cap_counts_the_publications_of_the_last_24_hours() {
    let now = Utc::now();
    let times = [
        now - Duration::hours(1),
        now - Duration::hours(23),
        now - Duration::hours(25),
    ];
    assert_eq!(usage(&times, now), 2);
}

#[test]
fn accounts_are_made_once_per_platform_and_name() {
    let mut state = State::default();
    let a = state.account(Kind::Instagram, "bakery");
    assert_eq!(state.account(Kind::Instagram, "bakery"), a);
    let b = state.account(Kind::Threads, "bakery");
    assert_ne!(a, b);
    assert_eq!(state.accounts[&a].cap, INSTAGRAM_CAP);
    assert_eq!(state.accounts[&b].reply_cap, THREADS_REPLY_CAP);
}
