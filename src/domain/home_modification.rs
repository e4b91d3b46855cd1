//! Barrier-free home modification cases (家庭无障碍改造) and the order of their steps.

use chrono::NaiveDate;

crate::code_enum! {
    pub enum CaseStatus: "home_modification_status" {
        Applied = "applied", "已申请";
        Assessed = "assessed", "已评估";
        InProgress = "in_progress", "改造中";
        Completed = "completed", "已验收";
        Cancelled = "cancelled", "已取消";
    }
}

crate::code_enum! {
    pub enum Assessment: "home_modification_assessment" {
        Eligible = "eligible", "符合条件";
        Ineligible = "ineligible", "不符合条件";
    }
}

/// A step of a case, with its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Assess(Assessment),
    Start,
    Complete,
    Cancel,
}

/// Where a case stands: its status, the assessment if made, the date of its last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseState {
    pub status: CaseStatus,
    pub assessment: Option<Assessment>,
    pub last_step_on: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepError {
    /// The step cannot follow the current status.
    Illegal,
    /// The step is dated before the previous one.
    BeforePrevious,
}

/// The status after `step` on `on`: applied → assessed (eligible | ineligible) → in progress →
/// completed; cancelled from any status before completion. Only an eligible case starts work.
pub fn next(state: CaseState, step: Step, on: NaiveDate) -> Result<CaseStatus, StepError> {
    use CaseStatus::*;
    let to = match (state.status, step) {
        (Applied, Step::Assess(_)) => Assessed,
        (Assessed, Step::Start) if state.assessment == Some(Assessment::Eligible) => InProgress,
        (InProgress, Step::Complete) => Completed,
        (Applied | Assessed | InProgress, Step::Cancel) => Cancelled,
        _ => return Err(StepError::Illegal),
    };
    if on < state.last_step_on {
        return Err(StepError::BeforePrevious);
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, d).unwrap()
    }

    fn state(status: CaseStatus, assessment: Option<Assessment>) -> CaseState {
        CaseState {
            status,
            assessment,
            last_step_on: day(10),
        }
    }

    #[test]
    fn the_happy_path() {
        use CaseStatus::*;
        assert_eq!(
            next(
                state(Applied, None),
                Step::Assess(Assessment::Eligible),
                day(11)
            ),
            Ok(Assessed)
        );
        assert_eq!(
            next(
                state(Assessed, Some(Assessment::Eligible)),
                Step::Start,
                day(12)
            ),
            Ok(InProgress)
        );
        assert_eq!(
            next(
                state(InProgress, Some(Assessment::Eligible)),
                Step::Complete,
                day(13)
            ),
            Ok(Completed)
        );
    }

    #[test]
    fn illegal_steps_and_dates() {
        use CaseStatus::*;
        assert_eq!(
            next(state(Applied, None), Step::Start, day(11)),
            Err(StepError::Illegal)
        );
        assert_eq!(
            next(state(Applied, None), Step::Complete, day(11)),
            Err(StepError::Illegal)
        );
        assert_eq!(
            next(
                state(Assessed, Some(Assessment::Ineligible)),
                Step::Start,
                day(11)
            ),
            Err(StepError::Illegal),
            "an ineligible case does not start"
        );
        assert_eq!(
            next(
                state(Assessed, Some(Assessment::Eligible)),
                Step::Assess(Assessment::Eligible),
                day(11)
            ),
            Err(StepError::Illegal)
        );
        assert_eq!(
            next(
                state(Completed, Some(Assessment::Eligible)),
                Step::Cancel,
                day(11)
            ),
            Err(StepError::Illegal)
        );
        assert_eq!(
            next(state(Cancelled, None), Step::Cancel, day(11)),
            Err(StepError::Illegal)
        );
        assert_eq!(
            next(state(Applied, None), Step::Cancel, day(9)),
            Err(StepError::BeforePrevious)
        );
        assert_eq!(
            next(state(Applied, None), Step::Cancel, day(10)),
            Ok(CaseStatus::Cancelled),
            "same day is fine"
        );
    }
}
