//! What the audit trail records, as codes: the kinds of events ([`Action`]) and their outcomes.
//! The trail itself (chain, append, verification) is `crate::audit`.

crate::code_enum! {
    pub enum Action: "audit_action" {
        Login = "login", "登录";
        LoginFailed = "login_failed", "登录失败";
        LoginRateLimited = "login_rate_limited", "登录过于频繁";
        AccountLocked = "account_locked", "账号锁定";
        Logout = "logout", "退出登录";
        TokenRefresh = "token_refresh", "刷新令牌";
        RefreshTokenReuse = "refresh_token_reuse", "刷新令牌重复使用";
        PasswordChange = "password_change", "修改密码";
        UserCreate = "user_create", "创建用户";
        UserUpdate = "user_update", "修改用户";
        AccessDenied = "access_denied", "越权访问";
        VillageCreate = "village_create", "新增村（社区）";
        VillageImport = "village_import", "批量导入村（社区）";
        ResidentCreate = "resident_create", "新建档案";
        ResidentUpdate = "resident_update", "修改档案";
        ResidentRead = "resident_read", "查阅人员信息";
        FileRead = "file_read", "查阅档案";
        HistoryRead = "history_read", "查阅变更记录";
        ResidentExport = "resident_export", "导出残疾人名单";
        WorkQueueRead = "work_queue_read", "查阅待办";
        ResidentReveal = "resident_reveal", "查看敏感信息";
        ResidentImport = "resident_import", "批量导入";
        CertificateIssue = "certificate_issue", "发证";
        CertificateRenew = "certificate_renew", "换证";
        CertificateReissue = "certificate_reissue", "补证";
        CertificateReassess = "certificate_reassess", "重新评定";
        CertificateCancel = "certificate_cancel", "注销证件";
        RecordCreate = "record_create", "新增档案记录";
        RecordUpdate = "record_update", "修改档案记录";
        RecordVoid = "record_void", "作废档案记录";
        PolicyCreate = "policy_create", "新增补贴政策";
        PolicyWithdraw = "policy_withdraw", "撤回补贴政策";
        SubsidyGrant = "subsidy_grant", "补贴发放";
        SubsidyGrantOverride = "subsidy_grant_override", "不符合条件的补贴发放（特批）";
        SubsidySuspend = "subsidy_suspend", "补贴暂停";
        SubsidyResume = "subsidy_resume", "补贴恢复";
        SubsidyTerminate = "subsidy_terminate", "补贴终止";
        SubsidyVoid = "subsidy_void", "作废补贴发放记录";
        HomeModificationApply = "home_modification_apply", "无障碍改造申请";
        HomeModificationStep = "home_modification_step", "无障碍改造进度";
        HomeModificationVoid = "home_modification_void", "作废无障碍改造案件";
        FacilityCreate = "facility_create", "新增设施";
        FacilityUpdate = "facility_update", "修改设施";
        GdpGrowthSet = "gdp_growth_set", "设置GDP增速";
        PasswordChangeFailed = "password_change_failed", "修改密码时当前密码错误";
        ResidentDuplicateElsewhere = "resident_duplicate_elsewhere", "告知身份证号已在他镇建档";
        ResidentLookupMiss = "resident_lookup_miss", "按身份证号查找未找到";
        IdProbeRateLimited = "id_probe_rate_limited", "身份证号查询过于频繁";
        ResidentMove = "resident_move", "区内迁居";
        IndicatorDefinitionPublish = "indicator_definition_publish", "发布指标定义";
        IndicatorDefinitionWithdraw = "indicator_definition_withdraw", "撤回指标定义";
        IndicatorGapsRead = "indicator_gaps_read", "查阅指标缺口名单";
        ReportSnapshotTake = "report_snapshot_take", "冻结报表快照";
        ReportSnapshotVerify = "report_snapshot_verify", "核验报表快照";
        ReportExport = "report_export", "导出报表";
        AuditExport = "audit_export", "导出审计日志";
        SubsidyReconciliationRead = "subsidy_reconciliation_read", "查阅补贴核对名单";
        ClientCreate = "client_create", "新增对接客户端";
        ClientUpdate = "client_update", "修改对接客户端";
        ClientSecretRotate = "client_secret_rotate", "更换客户端密钥";
        ClientToken = "client_token", "客户端获取令牌";
        ClientTokenFailed = "client_token_failed", "客户端获取令牌失败";
        ApplicationSubmit = "application_submit", "提交申请";
        ApplicationDecide = "application_decide", "办理申请";
        ApplicationWithdraw = "application_withdraw", "撤回申请";
        ApplicationRegister = "application_register", "申请人建档";
        CertificateVerify = "certificate_verify", "残疾人证核验";
        WebhookReplay = "webhook_replay", "重新推送状态通知";
    }
}

impl Action {
    /// The actions that change a resident's file: its history.
    pub const CHANGES: &'static [Action] = &[
        Action::ResidentCreate,
        Action::ResidentUpdate,
        Action::CertificateIssue,
        Action::CertificateRenew,
        Action::CertificateReissue,
        Action::CertificateReassess,
        Action::CertificateCancel,
        Action::RecordCreate,
        Action::RecordUpdate,
        Action::RecordVoid,
        Action::SubsidyGrant,
        Action::SubsidyGrantOverride,
        Action::SubsidySuspend,
        Action::SubsidyResume,
        Action::SubsidyTerminate,
        Action::SubsidyVoid,
        Action::HomeModificationApply,
        Action::HomeModificationStep,
        Action::HomeModificationVoid,
        Action::ResidentMove,
    ];
}

crate::code_enum! {
    pub enum Outcome: "audit_outcome" {
        Success = "success", "成功";
        Failure = "failure", "失败";
        Denied = "denied", "拒绝";
    }
}
