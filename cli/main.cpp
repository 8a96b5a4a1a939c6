#include "cli/command.hpp"

int main(int argc, char** argv) { return livechat::cli::livechat_main(argc, argv); }
