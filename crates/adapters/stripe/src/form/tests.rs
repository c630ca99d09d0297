#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn nested_keys_keep_their_brackets_and_values_are_encoded() {
    let form = Form::new()
        .push("line_items[0][price]", "price_123")
        .push(
            "success_url",
            "https://app.example/ok?session={CHECKOUT_SESSION_ID}&a=b c",
        )
        .push("metadata[user_id]", "42")
        .push("email", "ann+billing@example.com");
    assert_eq!(
        form.encode(),
        "line_items[0][price]=price_123\
         &success_url=https%3A%2F%2Fapp.example%2Fok%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D%26a%3Db+c\
         &metadata[user_id]=42\
         &email=ann%2Bbilling%40example.com"
    );
}

#[test]
fn what_is_encoded_decodes_to_the_same_pairs() {
    let form = Form::new().push("a[b]", "é & ü = ?").push("k[x y]", "[1]");
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(form.encode().as_bytes())
        .into_owned()
        .collect();
    assert_eq!(decoded, form.pairs());
}
