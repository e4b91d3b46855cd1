//! Messages in the users' language: the one catalogue of what every problem and field error
//! code says, in Chinese (zh-CN) and English, and the language of the request being answered.
//!
//! The codes stay the same in every language (clients key on them); only the sentences change.
//! A field error keeps the English sentence its site wrote, which English readers get; other
//! readers get the catalogue's sentence for its code, filled with the error's parameters.
//!
//! How the language reaches the problem body: [`negotiate`] (a middleware, outermost) reads
//! `Accept-Language` and runs the rest of the request inside a tokio task-local ([`current`]).
//! A problem body is rendered by `AppError::error_response` deep inside that call, and an
//! import report serialises its field errors in the handler, so both see the language without
//! every function taking it as an argument; rewriting finished bodies by code in a middleware
//! would have to parse every problem again and would lose the parameters of the messages.

use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

/// A language the service answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese (zh-CN), the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// `zh-CN`, `zh`, `zh-Hans`, `en`, `en-US`, … (case-insensitive); `None` for others.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language tag written in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The language of an `Accept-Language` header (RFC 9110 §12.5.4): the supported language
    /// of the highest q-value (the first one on a tie); `*` or nothing supported gives
    /// `default`; `q=0` refuses a language.
    pub fn negotiate(accept_language: Option<&str>, default: Lang) -> Lang {
        let Some(header) = accept_language else {
            return default;
        };
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .next()
                .map_or(Some(1000), parse_quality);
            let Some(quality) = quality.filter(|q| *q > 0) else {
                continue;
            };
            let lang = if tag == "*" {
                Some(default)
            } else {
                Lang::parse(tag)
            };
            if let Some(lang) = lang {
                if best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
        }
        best.map_or(default, |(_, lang)| lang)
    }
}

/// A q-value in thousandths (`0.8` → 800); `None` when it is not one.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being answered; the default (Chinese) outside a request.
pub fn current() -> Lang {
    LANG.try_with(|lang| *lang).unwrap_or_default()
}

/// Runs `future` answering in `lang` (for tests and work outside a request).
pub async fn scope<F: std::future::Future>(lang: Lang, future: F) -> F::Output {
    LANG.scope(lang, future).await
}

/// The language an app answers in when the request does not say (`DEFAULT_LANGUAGE`).
#[derive(Debug, Clone, Copy)]
pub struct DefaultLanguage(pub Lang);

/// The middleware: answers in the language `Accept-Language` prefers, else the default, and
/// says which in `Content-Language`. An error raised by an inner middleware is rendered here,
/// still inside the language's scope (actix would render it later, outside).
pub async fn negotiate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let default = req
        .app_data::<DefaultLanguage>()
        .map_or(Lang::default(), |d| d.0);
    let lang = Lang::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        default,
    );
    let language = header::HeaderValue::from_static(lang.tag());
    LANG.scope(lang, async move {
        match next.call(req).await {
            Ok(mut res) => {
                res.headers_mut().insert(header::CONTENT_LANGUAGE, language);
                Ok(res)
            }
            Err(error) => {
                let mut response = error.error_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_LANGUAGE, language);
                Err(actix_web::error::InternalError::from_response(error, response).into())
            }
        }
    })
    .await
}

/// A sentence in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub zh: &'static str,
    pub en: &'static str,
}

impl Text {
    pub fn get(self, lang: Lang) -> &'static str {
        lang.pick(self.zh, self.en)
    }
}

const fn t(zh: &'static str, en: &'static str) -> Text {
    Text { zh, en }
}

/// Fills `{name}` placeholders from `params`; `None` when one has no value.
pub fn fill(template: &str, params: &[(&'static str, String)]) -> Option<String> {
    let named: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    fill_named(template, &named)
}

/// The sentence of a field error code in `lang`, with its parameters when the catalogue has a
/// sentence naming them and every one is given; `None` for a code the catalogue lacks.
pub fn field_message(code: &str, params: &[(&'static str, String)], lang: Lang) -> Option<String> {
    if !params.is_empty() {
        // `expected` holds a kind of JSON value, named in the reader's language.
        let params: Vec<(&'static str, String)> = params
            .iter()
            .map(|(name, value)| match *name {
                "expected" => (*name, json_type(value, lang).to_owned()),
                _ => (*name, value.clone()),
            })
            .collect();
        let filled = FIELD_PARAMETRIC
            .iter()
            .filter(|(c, _)| *c == code)
            .find_map(|(_, text)| fill(text.get(lang), &params));
        if filled.is_some() {
            return filled;
        }
    }
    field_text(code).map(|text| text.get(lang).to_owned())
}

/// The sentence of a field error code (a problem code too: an import row reports a conflict
/// as a field error).
pub fn field_text(code: &str) -> Option<Text> {
    FIELD_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .or_else(|| PROBLEM_CODES.iter().find(|(c, _)| *c == code))
        .map(|(_, text)| *text)
}

/// The `detail` of a problem whose extra members (`registered_in`, …) fill a sentence of
/// [`PROBLEM_PARAMETRIC`]: members of members are named by dotted paths.
pub fn problem_detail(code: &str, extra: &serde_json::Value, lang: Lang) -> Option<String> {
    let mut params = Vec::new();
    flatten(extra, "", &mut params);
    PROBLEM_PARAMETRIC
        .iter()
        .filter(|(c, _)| *c == code)
        .find_map(|(_, text)| fill_named(text.get(lang), &params))
}

fn flatten(value: &serde_json::Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, member) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(member, &path, out);
            }
        }
        serde_json::Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

fn fill_named(template: &str, params: &[(String, String)]) -> Option<String> {
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let (_, value) = borrowed.iter().find(|(n, _)| *n == &rest[start + 1..end])?;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Sentences of problem codes that name members of the problem (the town a file lives in).
#[rustfmt::skip]
pub const PROBLEM_PARAMETRIC: &[(&str, Text)] = &[
    ("duplicate_id_number", t("该身份证号的居民已在{registered_in.town_name}建档：请联系该镇（街道）", "a resident with this ID number is registered in {registered_in.town_name}; ask that town")),
];

/// What a problem code means, the `detail` of its problem in Chinese.
pub fn problem_text(code: &str) -> Option<Text> {
    PROBLEM_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}

/// The label of a field name (a member of a request body, a query parameter or an import
/// column).
pub fn field_label(name: &str) -> Option<Text> {
    FIELD_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The types a JSON value can have, named for people (`invalid_type`'s `{expected}`).
pub fn json_type(kind: &str, lang: Lang) -> &'static str {
    JSON_TYPES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(lang.pick("有效的值", "a valid value"), |(_, text)| {
            text.get(lang)
        })
}

#[rustfmt::skip]
const JSON_TYPES: &[(&str, Text)] = &[
    ("string", t("字符串", "a string")),
    ("integer", t("整数", "a whole number")),
    ("number", t("数字", "a number")),
    ("boolean", t("布尔值（true 或 false）", "true or false")),
    ("array", t("数组", "an array")),
    ("object", t("对象", "an object")),
    ("date", t("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)")),
    ("month", t("月份（YYYY-MM）", "a month (YYYY-MM)")),
    ("code", t("代码", "a code")),
];

/// Every problem code (`code` of a problem body) with what it means.
#[rustfmt::skip]
pub const PROBLEM_CODES: &[(&str, Text)] = &[
    ("malformed_json", t("请求体不是有效的 JSON", "the body is not valid JSON")),
    ("malformed_csv", t("CSV 文件无法读取", "the CSV file cannot be read")),
    ("malformed_form", t("表单无法读取", "the form cannot be read")),
    ("malformed_xlsx", t("Excel 工作簿无法读取", "the workbook cannot be read")),
    ("already_voided", t("该记录已作废", "this record is already void")),
    ("record_voided", t("该记录已作废，不能再修改：请重新录入一条", "this record is void and can no longer be changed; enter a new one")),
    ("unreadable_body", t("请求体无法读取", "the request body cannot be read")),
    ("unreadable_file", t("文件既不是 UTF-8 也不是 GBK 文本", "the file is neither UTF-8 nor GBK text")),
    ("invalid_query", t("查询参数无法读取", "the query string cannot be read")),
    ("invalid_scope", t("权限范围无效", "the scope is not valid")),
    ("unsupported_grant_type", t("仅支持 grant_type=client_credentials", "only grant_type=client_credentials is supported")),
    ("idempotency_key_required", t("每个对接系统的 POST 请求都须带 Idempotency-Key 请求头", "send an Idempotency-Key header with every integration POST")),
    ("invalid_idempotency_key", t("Idempotency-Key 须为 1 至 255 个可见 ASCII 字符", "the Idempotency-Key must be 1 to 255 visible ASCII characters")),
    ("unauthorized", t("需要登录：请发送访问令牌", "authentication is required: send an access token")),
    ("invalid_token", t("访问令牌无效、已过期或已撤销", "the access token is invalid, expired or revoked")),
    ("invalid_credentials", t("用户名或密码错误，或账户已锁定或停用", "the username or password is wrong, or the account is locked or disabled")),
    ("invalid_refresh_token", t("刷新令牌无效、已使用、已过期或已撤销，请重新登录", "the refresh token is unknown, spent, expired or revoked; sign in again")),
    ("invalid_client", t("对接系统不存在或已停用，或密钥错误", "the client is unknown or disabled, or the secret is wrong")),
    ("forbidden", t("您的账户无权执行此操作", "this action is not allowed for your account")),
    ("not_found", t("未找到", "not found")),
    ("method_not_allowed", t("该资源不支持此请求方法", "the method is not allowed on this resource")),
    ("precondition_failed", t("资源在您读取后已被修改：请重新读取，并以其当前 ETag 作为 If-Match 重试", "read the resource again and retry with its current ETag in If-Match")),
    ("precondition_required", t("此修改需要 If-Match 请求头", "this update requires an If-Match header")),
    ("payload_too_large", t("请求体过大", "the request body is too large")),
    ("request_timeout", t("请求体未能及时送达", "the request body did not arrive in time")),
    ("unsupported_media_type", t("不支持的内容类型", "unsupported content type")),
    ("validation_failed", t("部分字段有误", "some fields are invalid")),
    ("too_many_requests", t("请求过于频繁，请稍后再试", "too many requests; retry later")),
    ("service_unavailable", t("数据库繁忙或无法连接，请稍后重试", "the database is busy or unreachable; retry shortly")),
    ("internal_error", t("服务器内部错误", "internal server error")),
    ("active_certificate_exists", t("该居民已持有有效残疾证：请换证、补证、重新评定或注销", "the resident already holds an active certificate; renew, reissue, re-assess or cancel it")),
    ("already_registered", t("申请人已登记", "the applicant is registered already")),
    ("already_withdrawn", t("此版本已撤回", "this version is already withdrawn")),
    ("area_exists", t("该区划代码已存在", "the area exists")),
    ("certificate_not_active", t("只有有效的残疾证可以换证、补证、重新评定或注销", "only the active certificate can be renewed, reissued, re-assessed or cancelled")),
    ("definition_in_effect", t("此版本已生效：请发布新版本来更正", "this version has taken effect; publish a new version to correct it")),
    ("delivery_pending", t("该事件仍在投递中", "the event is still being delivered")),
    ("duplicate_external_ref", t("该对接系统已提交过此外部编号的申请", "the client already submitted an application with this external reference")),
    ("duplicate_id_number", t("该身份证号的居民已登记", "a resident with this ID number is already registered")),
    ("grant_exists", t("该居民已有此项补贴的未终止发放", "the resident already has a grant of this subsidy that is not terminated")),
    ("grant_overlaps", t("此前的同项补贴发放已覆盖该月份：请从其终止之月或之后开始", "an earlier grant of this subsidy covers that month; start from the month of its termination or later")),
    ("illegal_transition", t("当前状态下不能执行此操作", "this step is not possible in the current state")),
    ("last_admin", t("这是最后一个有效的管理员：请先设置另一个管理员", "this is the last active admin; make another admin first")),
    ("no_active_certificate", t("该居民没有可换的有效残疾证", "the resident holds no active certificate to renew")),
    ("no_webhook", t("该对接系统没有可投递的回调地址", "the client has no webhook URL to deliver to")),
    ("policy_exists", t("该补贴已有同日生效的版本", "a version of this subsidy already takes effect on that day")),
    ("policy_in_effect", t("此版本已生效：请新增版本来更正", "this version has taken effect; add a new version to correct it")),
    ("record_exists", t("该居民已有该年度同类记录：请修改那条记录", "the resident already has a record for this year and kind; change that one")),
    ("reissue_limit", t("一本残疾证最多补发九次（B1–B9）", "a certificate can be reissued at most nine times (B1-B9)")),
    ("resident_not_active", t("该居民已登记为死亡或迁出", "the resident is recorded as deceased or moved out")),
    ("resident_not_registered", t("申请人尚未登记：请先登记", "the applicant is not registered yet; register the person first")),
    ("username_taken", t("该用户名已被使用", "the username is taken")),
];

/// Every field error code with its sentence.
#[rustfmt::skip]
pub const FIELD_CODES: &[(&str, Text)] = &[
    // Reading the body or the query string.
    ("invalid_type", t("类型不正确", "the value has the wrong type")),
    ("invalid_value", t("取值无效", "the value is not valid")),
    ("unknown_code", t("不是此处可用的代码，见 /api/v1/codes", "not a code accepted here; see /api/v1/codes")),
    ("required", t("此项必填", "this field is required")),
    ("unknown_field", t("此处不接受该字段", "this field is not accepted here")),
    ("duplicate_field", t("该字段出现了两次", "this field is given twice")),
    ("unknown_parameter", t("此处不接受该参数", "this parameter is not accepted here")),
    // Values.
    ("invalid", t("取值不符合要求", "the value does not meet the rules")),
    ("invalid_date", t("日期格式应为 YYYY-MM-DD", "write the date as YYYY-MM-DD")),
    ("invalid_month", t("月份格式应为 YYYY-MM", "write the month as YYYY-MM")),
    ("invalid_boolean", t("请填写 是 或 否（true 或 false）", "write true or false (是 or 否)")),
    ("invalid_format", t("格式不正确", "the format is not correct")),
    ("invalid_url", t("须为完整的 http 或 https 地址，不含账号密码，最多 2000 个字符", "an absolute http or https URL without credentials, at most 2000 characters")),
    ("invisible_character", t("含有不可见、改变文字方向或控制字符：请去掉后重新输入", "holds an invisible, direction-changing or control character; retype the text without it")),
    ("too_long", t("内容过长", "too long")),
    ("too_short", t("内容过短", "too short")),
    ("out_of_range", t("超出允许范围", "out of the allowed range")),
    ("out_of_life", t("不在该居民的生存期间内", "outside the resident's life")),
    ("immutable", t("身份证号不能修改：登记错误的人员由管理员更正", "the ID number cannot be changed; a wrongly registered person is corrected by an admin")),
    ("not_allowed", t("此处不允许", "not allowed here")),
    ("not_applicable", t("此项不适用", "not applicable here")),
    ("duplicate", t("重复", "given more than once")),
    ("repeated_in_file", t("与文件中前面一行重复", "the same value is on an earlier line of the file")),
    ("json_only", t("文件包含完整列表；分页仅用于 JSON", "a file holds the whole list; paging is for JSON")),
    ("xlsx_only", t("缺口名单以工作表形式附加：请选择 format=xlsx", "gap lists are added as sheets of a workbook: ask for format=xlsx")),
    ("too_many_events", t("符合条件的事件过多：请缩小时间范围", "too many events match; narrow the period")),
    ("too_many_rows", t("符合条件的居民过多，一个文件放不下：请缩小范围", "too many residents match for one file; narrow the search")),
    ("idempotency_key_reused", t("此 Idempotency-Key 已用于另一个请求：新请求请使用新的键", "this key was used with a different request; use a new key for a new request")),
    // ID numbers.
    ("invalid_length", t("身份证号应为 18 位", "an ID number has 18 characters")),
    ("scientific_notation", t("Excel 已将该数字转为科学计数法（如 3.30213E+17），后几位已丢失：请将该列设置为文本格式后重新录入", "Excel turned this number into scientific notation (such as 3.30213E+17) and lost its last digits: format the column as text, type the number again and save")),
    ("invalid_characters", t("身份证号应为 17 位数字加一位数字或 X", "an ID number is 17 digits followed by a digit or X")),
    ("invalid_birth_date", t("身份证号中的出生日期无效", "the birth date inside the ID number is not a real date")),
    ("invalid_check_digit", t("校验码不符：有数字输错", "the check character does not match: a digit is mistyped")),
    // Dates in a life and a case.
    ("in_future", t("日期在今天之后", "the date is in the future")),
    ("before_birth", t("日期早于该居民出生", "the date is before the resident's birth")),
    ("after_departure", t("该居民已死亡或迁出", "the resident has died or moved out")),
    ("before_certificate", t("日期早于有效残疾证的发证日期", "the date is before the active certificate was issued")),
    ("before_current", t("新证的发证日期不能早于现证", "the new certificate cannot be issued before the current one")),
    ("before_issue", t("该证当时尚未发放", "the certificate was not yet issued")),
    ("before_last_move", t("须晚于最近一次迁移", "must be after the latest recorded move")),
    ("before_latest", t("须晚于最新版本的生效日期", "must be after the effective date of the latest version")),
    ("before_min", t("不能小于最小值", "must not be below the minimum")),
    ("before_opening", t("不能早于开办日期", "must not be before the opening")),
    ("before_previous_step", t("日期早于该案件的上一步", "the date is before the case's previous step")),
    ("before_registration", t("日期早于该居民登记", "the date is before the resident was registered")),
    ("before_start", t("不能早于开始日期", "must not be before the start")),
    ("before_from", t("“to” 须晚于 “from”", "`to` must be after `from`")),
    ("before_definitions", t("该日期尚无生效的指标定义", "no indicator definitions were in force on that day")),
    ("not_after_current", t("新的困难类别须晚于当前类别开始", "a new household status must start after the current one")),
    ("not_after_issue", t("须晚于发证日期", "must be after the issue date")),
    ("not_in_future", t("新版本须在今天之后生效；已生效的版本以新版本更正", "a new version takes effect after today; a version in effect is corrected by a new one")),
    ("too_early", t("日期过早", "the date is too early")),
    ("too_far_ahead", t("发放最晚从下个月开始", "a grant may start at the latest next month")),
    ("overlapping_spell", t("与另一段不能同时进行的记录重叠", "overlaps another spell that cannot run at the same time")),
    // Certificates.
    ("category_mismatch", t("证号中的类别位与类别不符", "the category digit does not match the category")),
    ("grade_mismatch", t("证号中的等级位与等级不符", "the grade digit does not match the grade")),
    ("holder_mismatch", t("证号前 18 位须为持证人身份证号", "the first 18 characters must be the holder's ID number")),
    ("differs_from_active", t("该居民持有另一本有效残疾证：请使用证件操作", "the resident holds another active certificate; use the certificate actions")),
    // Areas and scope.
    ("unknown_town", t("不是本区的镇（街道）", "not a town or street of the district")),
    ("unknown_village", t("不是本区的村（社区）", "not a village or community of the district")),
    ("unknown_area", t("须为本区或其镇（街道）的代码", "the district or one of its towns, by code")),
    ("not_in_town", t("该村（社区）不属于该镇（街道）", "the village does not belong to the town")),
    ("out_of_scope", t("您不负责该镇（街道）", "you do not work in this town")),
    ("same_town", t("该居民已居住在该镇（街道）", "the resident already lives in this town")),
    ("area_exists", t("该代码的区划已存在，但名称、级别或所属镇不同", "an area with this code exists with another name, level or town")),
    // Subsidies and indicators.
    ("required_when_amount_differs", t("金额与该月政策标准不同：请填写调整原因", "the amount is not the policy's for that month; give an override reason")),
    ("required_when_ineligible", t("该居民当时不符合条件：请填写调整原因", "the resident is not eligible then; give an override reason")),
    ("not_enrolled", t("只有在读才能由政府资助", "only an enrolment can be paid")),
    ("missing_indicator", t("该指标未定义", "the indicator is not defined")),
    ("no_gap_list", t("只有比率类指标有未覆盖名单", "only rates have a list of those not covered")),
    // Accounts.
    ("too_common", t("此密码在常见密码列表中：请换一个", "this password is on lists of common passwords; choose another")),
    ("contains_username", t("密码不能包含用户名", "the password must not contain the username")),
    ("repeated", t("单个字符重复不能作为密码", "a single repeated character is not a password")),
    ("mismatch", t("当前密码错误", "the current password is wrong")),
    ("account_locked", t("密码错误次数过多，账户已锁定：请稍后再试或请管理员解锁", "the account is locked after too many wrong passwords; try again later or ask an admin to unlock it")),
];

/// Sentences of field error codes that name parameters of the error (`{expected}`, …): the
/// first one whose parameters the error carries is used.
#[rustfmt::skip]
pub const FIELD_PARAMETRIC: &[(&str, Text)] = &[
    ("invalid_type", t("类型不正确：应为以下代码之一：{allowed}", "the value has the wrong type; send one of the codes {allowed}")),
    ("invalid_value", t("取值无效：应为以下之一：{allowed}", "the value is not valid; one of: {allowed}")),
    ("invalid_type", t("类型不正确：应为{expected}", "the value has the wrong type; send {expected}")),
    ("unknown_code", t("不是此处可用的代码，可用：{allowed}", "not a code accepted here; one of: {allowed}")),
    ("invalid_value", t("取值无效：应为{expected}", "the value is not valid; send {expected}")),
    ("invalid", t("须为 1 至 {max} 个字符", "use 1 to {max} characters")),
    ("invisible_character", t("含有 {code_point}，一个不可见、改变文字方向或控制字符：请去掉后重新输入", "holds {code_point}, an invisible, direction-changing or control character; retype the text without it")),
    ("too_long", t("最多 {max} 个字符", "use at most {max} characters")),
    ("too_short", t("至少 {min} 个字符", "use at least {min} characters")),
    ("out_of_range", t("应在 {min} 到 {max} 之间", "from {min} to {max}")),
];

/// Labels of the field names of the API: members of request bodies, query parameters and
/// import columns.
#[rustfmt::skip]
pub const FIELD_NAMES: &[(&str, Text)] = &[
    ("action", t("操作", "action")),
    ("activity", t("活动", "activity")),
    ("actor", t("操作人", "actor")),
    ("address", t("地址", "address")),
    ("age_max", t("最大年龄", "maximum age")),
    ("age_min", t("最小年龄", "minimum age")),
    ("applied_on", t("申请日期", "applied on")),
    ("area", t("区域", "area")),
    ("as_of", t("截至日期", "as of")),
    ("assessed_on", t("评估日期", "assessed on")),
    ("binding", t("约束", "binding")),
    ("cancelled_on", t("注销日期", "cancelled on")),
    ("categories", t("残疾类别", "categories")),
    ("category", t("残疾类别", "category")),
    ("certificate", t("残疾证", "certificate")),
    ("certificate_category", t("残疾类别", "certificate category")),
    ("certificate_components", t("多重残疾构成", "certificate components")),
    ("certificate_expiring_before", t("残疾证到期早于", "certificate expiring before")),
    ("certificate_grade", t("残疾等级", "certificate grade")),
    ("certificate_issued_on", t("发证日期", "certificate issued on")),
    ("certificate_number", t("残疾证号", "certificate number")),
    ("certificate_valid_until", t("残疾证有效期至", "certificate valid until")),
    ("certified", t("已持证", "certified")),
    ("channel", t("渠道", "channel")),
    ("client_id", t("客户端编号", "client id")),
    ("client_secret", t("客户端密钥", "client secret")),
    ("closed_on", t("关闭日期", "closed on")),
    ("code", t("代码", "code")),
    ("comparator", t("比较方式", "comparator")),
    ("completed_on", t("完成日期", "completed on")),
    ("components", t("多重残疾组成", "components")),
    ("cost_fen", t("费用（分）", "cost (fen)")),
    ("course", t("课程", "course")),
    ("current_password", t("当前密码", "current password")),
    ("cursor", t("分页游标", "cursor")),
    ("days", t("天数", "days")),
    ("deceased_on", t("死亡日期", "deceased on")),
    ("decision", t("决定", "decision")),
    ("device_type", t("辅具类型", "device type")),
    ("disabled", t("已停用", "disabled")),
    ("display_name", t("显示名称", "display name")),
    ("effective_from", t("生效日期", "effective from")),
    ("employer", t("用人单位", "employer")),
    ("end_on", t("结束日期", "end on")),
    ("enrolled", t("在读", "enrolled")),
    ("exclude_work_injury_nursing", t("排除工伤护理", "exclude work-injury nursing")),
    ("excluded_household_statuses", t("排除的困难类别", "excluded household statuses")),
    ("extension", t("扩展范围", "extension")),
    ("external_ref", t("外部编号", "external reference")),
    ("field", t("字段", "field")),
    ("fitted_on", t("适配日期", "fitted on")),
    ("format", t("格式", "format")),
    ("from", t("开始时间", "from")),
    ("full", t("完整", "full")),
    ("gaps", t("缺口名单", "gap lists")),
    ("government_paid", t("政府资助", "government paid")),
    ("grade", t("残疾等级", "grade")),
    ("grades", t("残疾等级", "grades")),
    ("grant_type", t("授权类型", "grant type")),
    ("growth_bp", t("增长率（基点）", "growth (basis points)")),
    ("guardian_name", t("监护人姓名", "guardian's name")),
    ("guardian_phone", t("监护人电话", "guardian's phone")),
    ("household_flags", t("家庭情况标记", "household flags")),
    ("household_status", t("困难类别", "household status")),
    ("household_status_since", t("困难类别起始日期", "household status since")),
    ("household_statuses", t("困难类别", "household statuses")),
    ("id_number", t("身份证号", "ID number")),
    ("Idempotency-Key", t("幂等键", "Idempotency-Key")),
    ("indicators", t("指标", "indicators")),
    ("issued_on", t("发证日期", "issued on")),
    ("items", t("项目", "items")),
    ("kind", t("种类", "kind")),
    ("limit", t("每页条数", "limit")),
    ("mode", t("提供方式", "mode")),
    ("monthly_amount_fen", t("月发放金额（分）", "monthly amount (fen)")),
    ("moved_on", t("迁移日期", "moved on")),
    ("moved_out_on", t("迁出日期", "moved out on")),
    ("name", t("名称", "name")),
    ("name_en", t("英文名称", "English name")),
    ("needed_on", t("需求日期", "needed on")),
    ("new_password", t("新密码", "new password")),
    ("number", t("证号", "number")),
    ("opened_on", t("开办日期", "opened on")),
    ("outcome", t("结果", "outcome")),
    ("override_reason", t("调整原因", "override reason")),
    ("parent_code", t("所属镇（街道）代码", "parent code")),
    ("password", t("密码", "password")),
    ("payload", t("内容", "payload")),
    ("per_capita_income_fen", t("人均收入（分）", "per-capita income (fen)")),
    ("phone", t("电话", "phone")),
    ("provider", t("提供机构", "provider")),
    ("q", t("关键词", "search text")),
    ("reason", t("原因", "reason")),
    ("refresh_token", t("刷新令牌", "refresh token")),
    ("registered_on", t("登记日期", "registered on")),
    ("report", t("报告格式", "report format")),
    ("resident_id", t("居民编号", "resident id")),
    ("resumed_on", t("恢复日期", "resumed on")),
    ("role", t("角色", "role")),
    ("rules", t("规则", "rules")),
    ("school", t("学校", "school")),
    ("scope", t("权限范围", "scope")),
    ("scopes", t("权限范围", "scopes")),
    ("service_on", t("服务日期", "service on")),
    ("stage", t("学段", "stage")),
    ("standardized", t("规范化", "standardized")),
    ("start_month", t("起始月份", "start month")),
    ("start_on", t("开始日期", "start on")),
    ("started_on", t("开工日期", "started on")),
    ("state", t("状态", "state")),
    ("status", t("状态", "status")),
    ("subsidy", t("补贴", "subsidy")),
    ("suspended_on", t("暂停日期", "suspended on")),
    ("target", t("目标值", "target")),
    ("terminated_on", t("终止日期", "terminated on")),
    ("to", t("结束时间", "to")),
    ("town", t("镇（街道）", "town")),
    ("town_code", t("镇（街道）代码", "town code")),
    ("towns", t("负责的镇（街道）", "towns")),
    ("type", t("类型", "type")),
    ("unlock", t("解锁", "unlock")),
    ("url", t("地址", "URL")),
    ("username", t("用户名", "username")),
    ("valid_until", t("有效期至", "valid until")),
    ("village", t("村（社区）", "village")),
    ("village_code", t("村（社区）代码", "village code")),
    ("webhook_url", t("回调地址", "webhook URL")),
    ("window", t("统计口径", "window")),
    ("work_capacity", t("劳动能力", "work capacity")),
    ("year", t("年度", "year")),
];

/// Labels of the entity types named by audit events (`entity_type`).
#[rustfmt::skip]
pub const AUDIT_ENTITIES: &[(&str, Text)] = &[
    ("application", t("办事申请", "application")),
    ("area", t("行政区划", "area")),
    ("assistive_devices", t("辅助器具", "assistive devices")),
    ("certificate", t("残疾证", "certificate")),
    ("culture_services", t("文体服务", "culture services")),
    ("education", t("教育", "education")),
    ("employment", t("就业", "employment")),
    ("facility", t("服务机构", "facility")),
    ("gdp_growth", t("GDP 增速", "GDP growth")),
    ("home_modification", t("无障碍改造", "home modification")),
    ("incomes", t("收入", "incomes")),
    ("indicator_definitions", t("指标定义", "indicator definitions")),
    ("insurance", t("社会保险", "insurance")),
    ("integration_client", t("对接系统", "integration client")),
    ("other_benefits", t("其他保障", "other benefits")),
    ("rehab_needs", t("康复需求", "rehabilitation needs")),
    ("rehab_services", t("康复服务", "rehabilitation services")),
    ("report_snapshots", t("统计报表", "report snapshots")),
    ("resident", t("居民", "resident")),
    ("resident_move", t("居民迁移", "resident move")),
    ("seed_demo", t("演示数据", "demo data")),
    ("session", t("登录会话", "session")),
    ("subsidy_grant", t("补贴发放", "subsidy grant")),
    ("subsidy_policy", t("补贴政策", "subsidy policy")),
    ("trainings", t("培训", "trainings")),
    ("user", t("用户", "user")),
    ("webhook_event", t("回调事件", "webhook event")),
];

/// A table as a map, for lookups by the tests and the code catalogue.
pub fn as_map(table: &'static [(&'static str, Text)]) -> BTreeMap<&'static str, Text> {
    table.iter().copied().collect()
}

#[cfg(test)]
mod tests;
