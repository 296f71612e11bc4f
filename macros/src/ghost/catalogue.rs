//! The handlers a `#[ghost_scheduler]` impl may define: ghOSt's `BasicDispatchScheduler` callbacks
//! (seed 003), the scheduling decision, and the agent-process hooks (RPC, enclave ready).
//!
//! This table is the single source of truth for the check stage (known names, required ones,
//! expected signatures) and for codegen (which trait method each handler forwards to).

/// What a handler's parameters look like after `&mut self`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `(task: &mut Task<T>, msg: &<Msg>, cx: &mut Cx)`: a message about one task.
    Task { msg: &'static str },
    /// `(cpu: Cpu, msg: &<Msg>, cx: &mut Cx)`: a message about one CPU.
    Cpu { msg: &'static str },
    /// `(cpu: Cpu, cx: &mut Cx) -> Option<Gtid>`: the decision for one CPU.
    PickNext,
    /// `(req: i64, args: &AgentRpcArgs, cx: &mut Cx) -> AgentRpcResponse`: `AgentProcess::Rpc`
    /// handled in the agent (ghOSt's `RpcHandler`).
    Rpc,
    /// `(cx: &mut Cx)`: called once, after the channels exist and before the first message.
    EnclaveReady,
    /// `(task: &mut Task<T>, cpu: Cpu, state: TxnState, cx: &mut Cx)`: a commit of the task
    /// failed for a passing reason; the policy takes it back.
    CommitFailed,
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HandlerSpec {
    pub(crate) name: &'static str,
    pub(crate) shape: Shape,
    pub(crate) required: bool,
}

const fn task(name: &'static str, msg: &'static str, required: bool) -> HandlerSpec {
    HandlerSpec {
        name,
        shape: Shape::Task { msg },
        required,
    }
}

const fn cpu(name: &'static str, msg: &'static str) -> HandlerSpec {
    HandlerSpec {
        name,
        shape: Shape::Cpu { msg },
        required: false,
    }
}

/// Every handler, in the order the tutorial introduces them (the order of error messages).
pub(crate) const HANDLERS: &[HandlerSpec] = &[
    task("task_new", "TaskNew", true),
    task("task_runnable", "TaskWakeup", true),
    task("task_blocked", "TaskBlocked", true),
    task("task_yield", "TaskYield", true),
    task("task_preempted", "TaskPreempt", true),
    task("task_departed", "TaskDeparted", true),
    task("task_dead", "TaskDead", true),
    task("task_affinity_changed", "TaskAffinityChanged", false),
    cpu("cpu_tick", "CpuTick"),
    cpu("cpu_not_idle", "CpuNotIdle"),
    cpu("cpu_available", "CpuAvailable"),
    HandlerSpec {
        name: "pick_next",
        shape: Shape::PickNext,
        required: true,
    },
    HandlerSpec {
        name: "commit_failed",
        shape: Shape::CommitFailed,
        required: false,
    },
    HandlerSpec {
        name: "rpc",
        shape: Shape::Rpc,
        required: false,
    },
    HandlerSpec {
        name: "enclave_ready",
        shape: Shape::EnclaveReady,
        required: false,
    },
];

/// The catalogue entry called `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static HandlerSpec> {
    HANDLERS.iter().find(|spec| spec.name == name)
}

/// Whether a method name claims to be a handler: ghOSt's callback prefixes, or close enough to a
/// handler name to be a typo of one. Other methods are the user's helpers and pass through.
pub(crate) fn looks_like_handler(name: &str) -> bool {
    // Stricter than the suggestion threshold: a helper such as `pick_cpu` must stay a helper.
    name.starts_with("task_")
        || name.starts_with("cpu_")
        || HANDLERS
            .iter()
            .any(|spec| strsim::jaro_winkler(name, spec.name) >= 0.92)
}

/// The handler name closest to `name`, if any is close enough to suggest.
pub(crate) fn closest(name: &str) -> Option<&'static str> {
    crate::common::did_you_mean(name, HANDLERS.iter().map(|spec| spec.name))
}

impl HandlerSpec {
    /// The signature a user must write, for error messages (`task` is the `task = ` type).
    pub(crate) fn expected_signature(&self, task: &str) -> String {
        let name = self.name;
        match self.shape {
            Shape::Task { msg } => format!(
                "fn {name}(&mut self, task: &mut Task<{task}>, msg: &{msg}, cx: &mut Cx<'_>)"
            ),
            Shape::Cpu { msg } => {
                format!("fn {name}(&mut self, cpu: Cpu, msg: &{msg}, cx: &mut Cx<'_>)")
            }
            Shape::PickNext => {
                format!("fn {name}(&mut self, cpu: Cpu, cx: &mut Cx<'_>) -> Option<Gtid>")
            }
            Shape::Rpc => format!(
                "fn {name}(&mut self, req: i64, args: &AgentRpcArgs, cx: &mut Cx<'_>) -> AgentRpcResponse"
            ),
            Shape::EnclaveReady => format!("fn {name}(&mut self, cx: &mut Cx<'_>)"),
            Shape::CommitFailed => format!(
                "fn {name}(&mut self, task: &mut Task<{task}>, cpu: Cpu, state: TxnState, cx: &mut Cx<'_>)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_suggested_and_helpers_are_not_handlers() {
        assert_eq!(closest("task_nwe"), Some("task_new"));
        assert_eq!(closest("pick_nxt"), Some("pick_next"));
        assert_eq!(closest("task_preempt"), Some("task_preempted"));
        assert!(looks_like_handler("task_wakeup"));
        assert!(!looks_like_handler("select_cpu"));
        assert!(!looks_like_handler("rq_len"));
        assert!(!looks_like_handler("pick_cpu"));
        assert!(looks_like_handler("pick_nxt"));
        assert!(looks_like_handler("enclave_redy"));
        assert_eq!(closest("comit_failed"), Some("commit_failed"));
        assert!(looks_like_handler("commit_fail"));
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in HANDLERS.iter().enumerate() {
            assert!(
                HANDLERS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }
}
