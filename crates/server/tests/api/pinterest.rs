//! Pinterest through the API against the sandbox's fake — OAuth with HTTP Basic on the token
//! calls, the boards in the connection, pins checked field by field, videos registered,
//! uploaded as a signed form and processed — with the publishing worker running.

use std::collections::HashMap;

use multivio_sandbox::credentials::PINTEREST_APP_ID;
use serde_json::{Value, json};

use crate::Api;
use crate::platform_kit::{
    authorization_url, calls, connect, control, mp4, provider_entry, sealed_tokens, upload_file,
};
use crate::platforms::{png, publish, upload};

#[tokio::test]
async fn pinterest_connects_with_its_boards_and_pins_an_image_and_a_video_to_the_chosen_board() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    let entry = provider_entry(&api, "pinterest").await;
    assert_eq!(entry["configured"], true, "{entry}");
    assert_eq!(entry["connect_with"], "oauth");
    assert_eq!(entry["sandbox"], true);
    assert_eq!(
        entry["sandbox_server_url"],
        format!("{}/pinterest", sandbox.url()).as_str()
    );

    let url = authorization_url(&api, "alice", "pinterest").await;
    assert_eq!(url.path(), "/pinterest/oauth/");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], PINTEREST_APP_ID);
    assert_eq!(q["scope"], multivio_social::pinterest::SCOPES);

    let chosen = control(
        format!("{}/_sandbox/next_user", sandbox.pinterest_url()),
        json!({ "username": "bakery", "boards": ["Recipes", "Shop"] }),
    )
    .await;
    let connections = connect(&api, "alice", "pinterest").await;
    assert_eq!(connections.len(), 1);
    let boards = &connections[0]["metadata"]["boards"];
    assert_eq!(boards[0]["name"], "Recipes");
    assert_eq!(boards[1]["name"], "Shop");
    assert_eq!(connections[0]["account_type"], "business");
    let sealed = sealed_tokens(&api, "pinterest").await;
    assert!(
        sealed
            .iter()
            .all(|t| t.starts_with("v1.") && !t.contains("pina_"))
    );
    let token_call = &calls(&api, "pinterest", "POST", "/v5/oauth/token")[0];
    assert!(
        token_call
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );

    // An image to the Shop board (universal mode: the entry only carries settings).
    let shop = chosen["boards"][1]["id"].as_str().unwrap();
    let image = upload(&api, "alice", png(64, 96), "A loaf").await;
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Bread",
            "universal_content": "Fresh bread, every morning",
            "media_files": [image],
            "platform_content": { "pinterest": { "board_id": shop, "title": "Bread" } },
            "platforms": ["pinterest"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    let result = &post["publish_results"]["pinterest"];
    let id = result["platform_post_id"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!("https://www.pinterest.com/pin/{id}/").as_str()
    );
    let sent: Value =
        serde_json::from_str(&calls(&api, "pinterest", "POST", "/v5/pins")[0].body).unwrap();
    assert_eq!(sent["board_id"], shop);
    assert_eq!(sent["title"], "Bread");
    assert_eq!(sent["description"], "Fresh bread, every morning");
    assert_eq!(sent["alt_text"], "A loaf");
    assert_eq!(sent["media_source"]["source_type"], "image_url");
    assert!(
        sent["media_source"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost/media/")
    );

    // A video, registered, uploaded and processed first.
    let recipes = chosen["boards"][0]["id"].as_str().unwrap();
    let video = upload_file(&api, "alice", mp4(256 * 1024), "bake.mp4").await;
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "How we bake",
            "content_mode": "specific",
            "platform_content": { "pinterest": { "content": "How we bake", "board_id": recipes } },
            "media_files": [video["id"]],
            "platforms": ["pinterest"],
        }),
    )
    .await;
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(calls(&api, "pinterest", "POST", "/v5/media").len(), 1);
    assert_eq!(calls(&api, "pinterest", "POST", "/media-uploads/").len(), 1);
    let pins = sandbox.state().posts_of("pinterest").unwrap();
    assert_eq!(pins.len(), 2);
    assert_eq!(pins[1].media[0], "board Recipes");
    assert_eq!(pins[1].media[1], format!("video ({} bytes)", 256 * 1024));
}

#[tokio::test]
async fn a_pin_without_a_board_says_which_boards_there_are() {
    let api = Api::start_with_sandbox().await;
    let sandbox = api.sandbox();
    control(
        format!("{}/_sandbox/next_user", sandbox.pinterest_url()),
        json!({ "username": "travel", "boards": ["Alps", "Coast"] }),
    )
    .await;
    connect(&api, "alice", "pinterest").await;
    let image = upload(&api, "alice", png(64, 96), "Peaks").await;
    let post = publish(
        &api,
        "alice",
        json!({
            "name": "Alps", "universal_content": "Peaks", "media_files": [image],
            "platforms": ["pinterest"],
        }),
    )
    .await;
    assert_eq!(post["status"], "failed", "{post}");
    let error = &post["publish_results"]["pinterest"]["error"];
    assert_eq!(error["code"], "pinterest_board_required", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("board_id") && message.contains("Alps (") && message.contains("Coast ("),
        "{message}"
    );
    assert!(calls(&api, "pinterest", "POST", "/v5/pins").is_empty());

    let (status, refused) = api
        .post(
            "alice",
            "/v1/posts",
            json!({
                "name": "Bad board", "universal_content": "x",
                "platform_content": { "pinterest": { "board_id": "my board" } },
                "platforms": ["pinterest"],
            }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("platform_content.pinterest.board_id"),
        "{refused}"
    );
}
