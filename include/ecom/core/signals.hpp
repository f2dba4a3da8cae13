#pragma once
// Graceful stop: SIGUSR1 (Slurm's pre-timeout signal) or SIGTERM set a flag; stages check it
// at step boundaries (collectively, see par::stop_requested), write their checkpoint and exit
// with ExitCode::interrupted (75), which the job scripts turn into a requeue.
namespace ecom {

void install_stop_handlers();  // idempotent
bool stop_signalled();         // this process received SIGUSR1 or SIGTERM
void request_stop_for_testing();

}  // namespace ecom
