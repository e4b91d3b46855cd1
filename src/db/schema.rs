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
