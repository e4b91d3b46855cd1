//! The tables, written by hand with types every backend shares (see DESIGN §2):
//! UUIDs and JSON as Text, timestamps as UTC Timestamp, booleans as Bool.

diesel::table! {
    areas (code) {
        code -> Text,
        name -> Text,
        level -> Text,
        parent_code -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        public_id -> Text,
        username -> Text,
        display_name -> Nullable<Text>,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    user_towns (user_id, town_code) {
        user_id -> BigInt,
        town_code -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        public_id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_username -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        entity_type -> Nullable<Text>,
        entity_id -> Nullable<Text>,
        resident_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        outcome -> Text,
        changes -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
        mac -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_checkpoints (seq) {
        seq -> BigInt,
        hash -> Text,
        mac -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(user_towns -> users (user_id));
diesel::joinable!(user_towns -> areas (town_code));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    areas,
    users,
    user_towns,
    sessions,
    refresh_tokens,
    audit_events,
);

diesel::table! {
    residents (id) {
        id -> BigInt,
        public_id -> Text,
        id_number_enc -> Text,
        id_number_index -> Text,
        name -> Text,
        sex -> Text,
        birth_date -> Date,
        town_code -> Text,
        village_code -> Nullable<Text>,
        address -> Nullable<Text>,
        phone_enc -> Nullable<Text>,
        guardian_name -> Nullable<Text>,
        guardian_phone_enc -> Nullable<Text>,
        household_flags -> Text,
        work_capacity -> Nullable<Bool>,
        registered_on -> Date,
        deceased_on -> Nullable<Date>,
        moved_out_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    household_statuses (id) {
        id -> BigInt,
        resident_id -> BigInt,
        status -> Text,
        since -> Date,
        until -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    certificates (id) {
        id -> BigInt,
        public_id -> Text,
        resident_id -> BigInt,
        category -> Text,
        components -> Nullable<Text>,
        grade -> Integer,
        reissue -> Integer,
        issued_on -> Date,
        valid_until -> Date,
        status -> Text,
        cancelled_on -> Nullable<Date>,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(household_statuses -> residents (resident_id));
diesel::joinable!(certificates -> residents (resident_id));
diesel::allow_tables_to_appear_in_same_query!(residents, household_statuses, certificates, areas);

diesel::table! {
    subsidy_policies (id) {
        id -> BigInt,
        public_id -> Text,
        kind -> Text,
        effective_from -> Date,
        monthly_amount_fen -> BigInt,
        rules -> Text,
        created_at -> Timestamp,
        withdrawn_at -> Nullable<Timestamp>,
        withdraw_reason -> Nullable<Text>,
    }
}

diesel::table! {
    subsidy_grants (id) {
        id -> BigInt,
        public_id -> Text,
        resident_id -> BigInt,
        kind -> Text,
        start_month -> Date,
        monthly_amount_fen -> BigInt,
        eligible_at_start -> Bool,
        override_reason -> Nullable<Text>,
        terminated_on -> Nullable<Date>,
        terminate_reason -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        voided_at -> Nullable<Timestamp>,
        voided_by -> Nullable<Text>,
        void_reason -> Nullable<Text>,
    }
}

diesel::table! {
    grant_suspensions (id) {
        id -> BigInt,
        grant_id -> BigInt,
        resident_id -> BigInt,
        suspended_on -> Date,
        resumed_on -> Nullable<Date>,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    file_records (id) {
        id -> BigInt,
        public_id -> Text,
        resident_id -> BigInt,
        section -> Text,
        kind -> Text,
        start_on -> Date,
        end_on -> Nullable<Date>,
        natural_key -> Nullable<Text>,
        data -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        holds -> Bool,
        voided_at -> Nullable<Timestamp>,
        voided_by -> Nullable<Text>,
        void_reason -> Nullable<Text>,
    }
}

diesel::table! {
    home_modifications (id) {
        id -> BigInt,
        public_id -> Text,
        resident_id -> BigInt,
        status -> Text,
        applied_on -> Date,
        assessed_on -> Nullable<Date>,
        assessment -> Nullable<Text>,
        started_on -> Nullable<Date>,
        completed_on -> Nullable<Date>,
        cancelled_on -> Nullable<Date>,
        cancel_reason -> Nullable<Text>,
        items -> Text,
        cost_fen -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        voided_at -> Nullable<Timestamp>,
        voided_by -> Nullable<Text>,
        void_reason -> Nullable<Text>,
    }
}

diesel::table! {
    facilities (id) {
        id -> BigInt,
        public_id -> Text,
        kind -> Text,
        name -> Text,
        town_code -> Text,
        standardized -> Bool,
        opened_on -> Date,
        closed_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    gdp_growth (year) {
        year -> Integer,
        growth_bp -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(subsidy_grants -> residents (resident_id));
diesel::joinable!(grant_suspensions -> subsidy_grants (grant_id));
diesel::joinable!(file_records -> residents (resident_id));
diesel::joinable!(home_modifications -> residents (resident_id));

diesel::table! {
    resident_moves (id) {
        id -> BigInt,
        public_id -> Text,
        resident_id -> BigInt,
        from_town -> Text,
        from_village -> Nullable<Text>,
        to_town -> Text,
        to_village -> Nullable<Text>,
        moved_on -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    indicator_definitions (id) {
        id -> BigInt,
        public_id -> Text,
        version -> Integer,
        effective_from -> Date,
        body -> Text,
        published_at -> Timestamp,
        published_by -> Nullable<Text>,
        withdrawn_at -> Nullable<Timestamp>,
        withdraw_reason -> Nullable<Text>,
    }
}

diesel::joinable!(resident_moves -> residents (resident_id));

diesel::table! {
    integration_clients (id) {
        id -> BigInt,
        public_id -> Text,
        name -> Text,
        secret_hash -> Text,
        generation -> Integer,
        scopes -> Text,
        webhook_url -> Nullable<Text>,
        webhook_secret_enc -> Nullable<Text>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    applications (id) {
        id -> BigInt,
        public_id -> Text,
        client_id -> Nullable<BigInt>,
        channel -> Text,
        kind -> Text,
        status -> Text,
        external_ref -> Nullable<Text>,
        resident_id -> Nullable<BigInt>,
        id_number_enc -> Text,
        id_number_index -> Text,
        name_enc -> Text,
        town_code -> Text,
        payload -> Text,
        reason -> Nullable<Text>,
        effect_type -> Nullable<Text>,
        effect_id -> Nullable<Text>,
        submitted_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    idempotency_keys (client_id, idem_key) {
        client_id -> BigInt,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> BigInt,
        public_id -> Text,
        client_id -> BigInt,
        application_id -> BigInt,
        event_type -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        event_id -> BigInt,
        attempt -> Integer,
        instance -> Text,
        started_at -> Timestamp,
        duration_ms -> BigInt,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(applications -> integration_clients (client_id));
diesel::joinable!(webhook_events -> integration_clients (client_id));
diesel::joinable!(webhook_attempts -> webhook_events (event_id));
diesel::allow_tables_to_appear_in_same_query!(
    integration_clients,
    applications,
    webhook_events,
    webhook_attempts,
    idempotency_keys,
);

diesel::table! {
    report_snapshots (id) {
        id -> BigInt,
        public_id -> Text,
        as_of -> Date,
        area_code -> Text,
        definition_version -> Integer,
        taken_at -> Timestamp,
        taken_by -> Nullable<Text>,
        taken_by_username -> Nullable<Text>,
        audit_seq -> BigInt,
        results -> Text,
        digests -> Text,
        contributions -> Text,
        seal -> Text,
    }
}

diesel::table! {
    /// The indicators' per-resident projection (src/domain/indicators/stored.rs).
    resident_facts (resident_id) {
        resident_id -> BigInt,
        facts -> Binary,
    }
}

diesel::table! {
    /// Residents whose `resident_facts` value no longer matches their rows (set by triggers).
    resident_facts_stale (resident_id) {
        resident_id -> BigInt,
    }
}

diesel::table! {
    /// The pairs of neighbouring characters of residents' names, the last character paired with
    /// U+0001, ASCII in lower case (name search); kept by triggers on `residents`.
    resident_name_grams (gram, resident_id) {
        gram -> Text,
        resident_id -> BigInt,
    }
}
diesel::allow_tables_to_appear_in_same_query!(resident_name_grams, residents);
diesel::allow_tables_to_appear_in_same_query!(resident_name_grams, certificates);
diesel::allow_tables_to_appear_in_same_query!(resident_name_grams, household_statuses);

diesel::table! {
    file_views (resident_id) {
        resident_id -> BigInt,
        version -> Integer,
        rendered_for -> Text,
        body -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(file_views, residents);
