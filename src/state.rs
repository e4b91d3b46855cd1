//! What every handler, the auth guard and the middlewares reach through the app: the pool, the
//! configuration and the services built once at start. `startup` builds it; nothing here
//! knows the routes.

use std::sync::Arc;

use crate::audit::batch::Recorder;
use crate::auth::settings::AuthSettings;
use crate::config::Config;
use crate::db::Pool;
use crate::http::metrics::Metrics;
use crate::protect::Protector;
use crate::use_cases::integration::Integration;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<AuthSettings>,
    pub protector: Arc<Protector>,
    pub integration: Arc<Integration>,
    /// Appends the audit events of reads, many per transaction (group commit).
    pub recorder: Recorder,
}
