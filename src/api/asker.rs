//! [`Asker`]: who calls a route, taken from the request, as the use cases need it (the
//! [`Requester`] of the access policy). Every route about residents' files extracts one.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDate;

use crate::access::Requester;
use crate::audit::AuditContext;
use crate::auth::guard::{Caller, RequestContext};
use crate::domain::role::Scope;
use crate::error::AppError;
use crate::protect::Protector;
use crate::state::AppState;

/// Everything a resident operation needs from the request, owned so it can move to the
/// blocking pool.
pub struct Asker {
    pub(super) audit: AuditContext,
    recorder: crate::audit::batch::Recorder,
    pub(super) scope: Scope,
    protector: Arc<Protector>,
    today: NaiveDate,
    certificate_expiring_days: u32,
}

impl Asker {
    /// Today in the district.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    pub fn requester(&self) -> Requester<'_> {
        Requester {
            audit: &self.audit,
            recorder: &self.recorder,
            scope: &self.scope,
            protector: &self.protector,
            today: self.today,
            certificate_expiring_days: self.certificate_expiring_days,
        }
    }
}

impl FromRequest for Asker {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let asker = (|| {
            let caller = Caller::from_request(req, payload).into_inner()?;
            let RequestContext(audit) = RequestContext::from_request(req, payload).into_inner()?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("application state missing"))?;
            Ok(Asker {
                audit,
                recorder: state.recorder.clone(),
                scope: caller.scope(),
                protector: state.protector.clone(),
                today: crate::domain::today(),
                certificate_expiring_days: state.config.certificate_expiring_days,
            })
        })();
        ready(asker)
    }
}
