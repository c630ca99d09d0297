//! The sandbox's own pages: what the fakes hold, for a person and as JSON.

use actix_web::{HttpResponse, web};

use crate::SandboxState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/_sandbox/posts", web::get().to(posts))
        .route("/_sandbox/requests", web::get().to(requests));
}

async fn posts(state: web::Data<SandboxState>) -> HttpResponse {
    HttpResponse::Ok().json(state.posts())
}

async fn requests(state: web::Data<SandboxState>) -> HttpResponse {
    HttpResponse::Ok().json(state.requests())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(state: web::Data<SandboxState>) -> HttpResponse {
    let mut rows = String::new();
    for p in state.posts().iter().rev() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.created_at.format("%Y-%m-%d %H:%M:%S"),
            p.platform,
            escape(&p.account),
            escape(&p.text),
            escape(&p.media.join(", ")),
            escape(p.reply_to.as_deref().unwrap_or("")),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=6>Nothing published yet.</td></tr>");
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=utf-8><title>Multivio sandbox</title>\
             <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .6em;\
             border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}</style></head>\
             <body><h1>Multivio sandbox</h1><p>Local fakes of X, Bluesky and Mastodon. Nothing \
             here leaves this machine. <a href=\"/_sandbox/posts\">posts as JSON</a> · \
             <a href=\"/_sandbox/requests\">requests received</a></p><table><tr><th>when</th>\
             <th>platform</th><th>account</th><th>text</th><th>media</th><th>reply to</th></tr>\
             {rows}</table></body></html>"
        ))
}
