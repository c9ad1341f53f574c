// rmsmp-run's subcommands; each returns the process exit code and throws rmsmp::Error on failure.
#pragma once

namespace rmsmp::run {
int cmd_embed(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_fit_head(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_glue(int argc, char** argv);
int cmd_devices(int argc, char** argv);
int cmd_glue_table(int argc, char** argv);
int cmd_classify(int argc, char** argv);
int cmd_imagenet(int argc, char** argv);
int cmd_mnist(int argc, char** argv);
int cmd_agree(int argc, char** argv);
int cmd_fmnist_table(int argc, char** argv);
}  // namespace rmsmp::run
