// @generated from the migrations by `just schema`; do not edit by hand.

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Int4,
        #[max_length = 255]
        idempotency_key -> Varchar,
        #[max_length = 64]
        request_hash -> Varchar,
        response_status -> Nullable<Int4>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        attempt -> Nullable<Uuid>,
        post_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    media_files (id) {
        id -> Uuid,
        user_id -> Int4,
        #[max_length = 255]
        filename -> Varchar,
        #[max_length = 255]
        original_filename -> Nullable<Varchar>,
        #[max_length = 100]
        file_type -> Nullable<Varchar>,
        file_size -> Nullable<Int4>,
        cdn_url -> Nullable<Text>,
        thumbnail_url -> Nullable<Text>,
        platform_compatibility -> Nullable<Jsonb>,
        alt_text -> Nullable<Text>,
        upload_date -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
        width -> Nullable<Int4>,
        height -> Nullable<Int4>,
        duration_secs -> Nullable<Float8>,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        #[max_length = 64]
        state_hash -> Varchar,
        user_id -> Int4,
        #[max_length = 50]
        provider -> Varchar,
        pkce_verifier -> Text,
        redirect_uri -> Text,
        return_to -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        server_url -> Nullable<Text>,
        connection_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    platform_apps (provider, server_url, redirect_uri) {
        #[max_length = 50]
        provider -> Varchar,
        server_url -> Text,
        redirect_uri -> Text,
        client_id -> Text,
        client_secret -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    post_quota_usage (post_id) {
        post_id -> Uuid,
        user_id -> Int4,
        consumed_at -> Timestamptz,
    }
}

diesel::table! {
    posts (id) {
        id -> Uuid,
        user_id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 50]
        content_mode -> Nullable<Varchar>,
        universal_content -> Nullable<Text>,
        universal_metadata -> Nullable<Jsonb>,
        platform_content -> Nullable<Jsonb>,
        platforms -> Nullable<Jsonb>,
        media_files -> Nullable<Jsonb>,
        schedule_date -> Nullable<Timestamptz>,
        #[max_length = 50]
        status -> Nullable<Varchar>,
        #[max_length = 255]
        publish_job_id -> Nullable<Varchar>,
        published_at -> Nullable<Timestamptz>,
        publish_results -> Nullable<Jsonb>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
        revision -> Int8,
        thread -> Jsonb,
        quota_unit_held -> Bool,
    }
}

diesel::table! {
    processed_webhook_events (event_id) {
        #[max_length = 255]
        event_id -> Varchar,
        #[max_length = 50]
        source -> Varchar,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    publish_jobs (id) {
        id -> Uuid,
        user_id -> Int4,
        post_id -> Uuid,
        #[max_length = 50]
        provider -> Varchar,
        connection_id -> Nullable<Uuid>,
        #[max_length = 20]
        status -> Varchar,
        run_at -> Timestamptz,
        attempt -> Int4,
        fencing_token -> Int8,
        #[max_length = 255]
        leased_by -> Nullable<Varchar>,
        leased_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    quota_carryovers (key_hash, last_quota_reset) {
        #[max_length = 64]
        key_hash -> Varchar,
        last_quota_reset -> Timestamptz,
        monthly_post_quota -> Int4,
        remaining_posts -> Int4,
        expires_at -> Timestamptz,
        quota_anchor -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    social_connections (id) {
        id -> Uuid,
        user_id -> Int4,
        #[max_length = 50]
        provider -> Varchar,
        #[max_length = 255]
        provider_account_id -> Varchar,
        access_token -> Text,
        refresh_token -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
        #[max_length = 255]
        account_label -> Nullable<Varchar>,
        #[max_length = 50]
        account_type -> Nullable<Varchar>,
        is_primary -> Nullable<Bool>,
        metadata -> Nullable<Jsonb>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
        oauth1_access_token -> Nullable<Text>,
        oauth1_access_token_secret -> Nullable<Text>,
        #[max_length = 255]
        oauth1_user_id -> Nullable<Varchar>,
        #[max_length = 255]
        oauth1_screen_name -> Nullable<Varchar>,
        oauth1_created_at -> Nullable<Timestamptz>,
        #[max_length = 20]
        status -> Varchar,
        refresh_locked_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    subscription_history (id) {
        id -> Uuid,
        #[max_length = 255]
        user_email -> Varchar,
        #[max_length = 255]
        stripe_subscription_id -> Nullable<Varchar>,
        #[max_length = 50]
        plan_name -> Nullable<Varchar>,
        #[max_length = 50]
        status -> Nullable<Varchar>,
        amount_paid -> Nullable<Int4>,
        #[max_length = 3]
        currency -> Nullable<Varchar>,
        period_start -> Nullable<Timestamptz>,
        period_end -> Nullable<Timestamptz>,
        #[max_length = 255]
        stripe_customer_id -> Nullable<Varchar>,
        created_at -> Nullable<Timestamptz>,
        user_id -> Nullable<Int4>,
    }
}

diesel::table! {
    user_info (id) {
        id -> Int4,
        user_id -> Int4,
        #[max_length = 50]
        plan_type -> Nullable<Varchar>,
        monthly_post_quota -> Nullable<Int4>,
        remaining_posts -> Nullable<Int4>,
        #[max_length = 255]
        subscription_id -> Nullable<Varchar>,
        #[max_length = 50]
        subscription_status -> Nullable<Varchar>,
        subscription_end_date -> Nullable<Timestamptz>,
        last_quota_reset -> Nullable<Timestamptz>,
        preferences -> Nullable<Jsonb>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
        last_billing_event_at -> Nullable<Timestamptz>,
        pending_monthly_post_quota -> Nullable<Int4>,
        paid_monthly_post_quota -> Nullable<Int4>,
        quota_anchor -> Nullable<Timestamptz>,
        quota_resets_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Int4,
        #[max_length = 255]
        firebase_uid -> Varchar,
        #[max_length = 255]
        email -> Varchar,
        #[max_length = 100]
        username -> Nullable<Varchar>,
        #[max_length = 255]
        full_name -> Nullable<Varchar>,
        #[max_length = 100]
        display_name -> Nullable<Varchar>,
        #[max_length = 255]
        work_description -> Nullable<Varchar>,
        bio -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        email_verified -> Nullable<Bool>,
        #[max_length = 50]
        auth_provider -> Nullable<Varchar>,
        is_active -> Nullable<Bool>,
        is_verified -> Nullable<Bool>,
        #[max_length = 255]
        stripe_customer_id -> Nullable<Varchar>,
        #[max_length = 50]
        subscription_status -> Nullable<Varchar>,
        #[max_length = 255]
        subscription_id -> Nullable<Varchar>,
        #[max_length = 50]
        plan_name -> Nullable<Varchar>,
        subscription_end_date -> Nullable<Timestamptz>,
        #[max_length = 255]
        email_verification_token -> Nullable<Varchar>,
        email_verification_expires_at -> Nullable<Timestamptz>,
        email_verification_sent_at -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
        email_verification_sends -> Array<Nullable<Timestamptz>>,
    }
}

diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(media_files -> users (user_id));
diesel::joinable!(oauth_states -> users (user_id));
diesel::joinable!(post_quota_usage -> posts (post_id));
diesel::joinable!(post_quota_usage -> users (user_id));
diesel::joinable!(posts -> users (user_id));
diesel::joinable!(publish_jobs -> posts (post_id));
diesel::joinable!(publish_jobs -> users (user_id));
diesel::joinable!(social_connections -> users (user_id));
diesel::joinable!(subscription_history -> users (user_id));
diesel::joinable!(user_info -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    idempotency_keys,
    media_files,
    oauth_states,
    platform_apps,
    post_quota_usage,
    posts,
    processed_webhook_events,
    publish_jobs,
    quota_carryovers,
    social_connections,
    subscription_history,
    user_info,
    users,
);
