// A web client's first steps with Multivio, fully typed from the API's own /openapi.json
// (openapi-typescript generates src/generated/api.d.ts, openapi-fetch makes the calls):
// sign in with a Firebase ID token, connect a Bluesky account, create, list, schedule and
// cancel a post, and read a refusal as the problem document it is.
//
//   MULTIVIO_URL=http://127.0.0.1:8080 MULTIVIO_TOKEN=$(multivio dev-token) node dist/example.js
//
// Against `just run`: the sandbox's Bluesky signs in any identifier whose password has an app
// password's shape. Exits non-zero at the first answer that is not the expected one.

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type Problem = components["schemas"]["Problem"];
type Post = components["schemas"]["PostDto"];

const baseUrl = process.env.MULTIVIO_URL ?? "http://127.0.0.1:8080";
const token = process.env.MULTIVIO_TOKEN;
if (!token) {
  throw new Error("set MULTIVIO_TOKEN to a Firebase ID token (`multivio dev-token` locally)");
}

const api = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${token}` },
});

/** The body of a successful answer, or an error naming the problem document. */
function ok<T>(what: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    const problem = answer.error as Problem | undefined;
    throw new Error(
      `${what}: ${answer.response.status} ${problem?.title ?? ""}: ${problem?.detail ?? ""}`,
    );
  }
  return answer.data;
}

function expect(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error(`unexpected: ${what}`);
  }
}

async function main(): Promise<void> {
  // The first authenticated request creates the user.
  const me = ok("GET /v1/me", await api.GET("/v1/me"));
  console.log(`signed in as ${me.email}: ${me.plan.name}, ${me.quota.remaining_posts} posts left`);

  // Scheduling needs a connected account for each platform.
  const providers = ok("GET /v1/providers", await api.GET("/v1/providers"));
  const bluesky = providers.find((p) => p.provider === "bluesky");
  expect(bluesky?.connect_with === "credentials", "Bluesky connects with credentials");
  const connected = ok(
    "POST /v1/connections/bluesky",
    await api.POST("/v1/connections/{provider}", {
      params: { path: { provider: "bluesky" } },
      body: { identifier: "client.bsky.sandbox", password: "abcd-efgh-ijkl-mnop" },
    }),
  );
  console.log(`connected ${connected.items.map((c) => c.account_label ?? c.provider_account_id).join(", ")}`);

  // A draft, repeat-safe with an Idempotency-Key.
  const key = `example-${Date.now()}`;
  const draft: Post = ok(
    "POST /v1/posts",
    await api.POST("/v1/posts", {
      params: { header: { "Idempotency-Key": key } },
      body: {
        name: "Launch",
        universal_content: "We launched! https://example.com",
        thread: [{ text: "Try it today." }],
        platforms: ["bluesky"],
      },
    }),
  );
  expect(draft.status === "draft", `a new post is a draft (${draft.status})`);

  // The same request again answers the first answer and creates nothing.
  const again = await api.POST("/v1/posts", {
    params: { header: { "Idempotency-Key": key } },
    body: {
      name: "Launch",
      universal_content: "We launched! https://example.com",
      thread: [{ text: "Try it today." }],
      platforms: ["bluesky"],
    },
  });
  expect(ok("repeat", again).id === draft.id, "a repeat answers the same post");
  expect(again.response.headers.get("idempotent-replayed") === "true", "marked as replayed");

  const page = ok(
    "GET /v1/posts",
    await api.GET("/v1/posts", { params: { query: { status: "draft", limit: 10 } } }),
  );
  expect(page.items.some((p) => p.id === draft.id), "the list has the draft");

  // Tomorrow: one unit of the monthly quota.
  const tomorrow = new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString();
  const scheduled = ok(
    "POST /v1/posts/{id}/schedule",
    await api.POST("/v1/posts/{id}/schedule", {
      params: { path: { id: draft.id }, header: { "Idempotency-Key": `${key}-schedule` } },
      body: { schedule_date: tomorrow },
    }),
  );
  expect(scheduled.status === "scheduled", `scheduled (${scheduled.status})`);

  // Cancel: back to a draft, and the unit is refunded.
  const cancelled = ok(
    "POST /v1/posts/{id}/cancel",
    await api.POST("/v1/posts/{id}/cancel", { params: { path: { id: draft.id } } }),
  );
  expect(cancelled.status === "draft", `cancelled back to a draft (${cancelled.status})`);

  // A refusal is a typed problem document; `errors` names each field.
  const refused = await api.POST("/v1/posts/{id}/schedule", {
    params: { path: { id: draft.id } },
    body: { schedule_date: "2001-01-01T00:00:00Z" },
  });
  expect(refused.response.status === 422, `a past date is refused (${refused.response.status})`);
  expect(
    refused.response.headers.get("content-type")?.startsWith("application/problem+json") === true,
    "as application/problem+json",
  );
  const problem: Problem | undefined = refused.error;
  expect(problem?.errors?.[0]?.field === "schedule_date", "naming schedule_date");
  console.log(`refused as expected: ${problem?.detail ?? ""}`);

  console.log(`post ${draft.id}: created, listed, scheduled for ${tomorrow}, cancelled`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
