#include "support/results_schema.h"

#include <fstream>

#include "support/test_support.h"

namespace dancer::testing {
namespace {

// Debian's python3-jsonschema is installed for /usr/bin/python3; a python3 from pyenv or a
// venv earlier on PATH would not see it.
constexpr const char* kPython = "/usr/bin/python3";

::testing::AssertionResult validate(const nlohmann::json& document, const std::string& definition) {
  std::string text;
  try {
    text = document.dump();
  } catch (const nlohmann::json::exception& e) {
    // dump() refuses invalid UTF-8, as the job store does before writing the row.
    return ::testing::AssertionFailure() << "cannot serialise the document: " << e.what();
  }
  TempDir dir;
  const auto file = dir / "document.json";
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out.flush()) return ::testing::AssertionFailure() << "cannot write " << file;
  }
  std::string command =
      std::string(kPython) + " " + shell_quote(results_validator_path().string()) + " " +
      shell_quote(results_schema_path().string()) + " " + shell_quote(file.string());
  if (!definition.empty()) command += " --definition " + shell_quote(definition);
  const CommandResult r = run_command(command + " 2>&1");
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  constexpr std::size_t kShown = 2000;
  return ::testing::AssertionFailure() << "validate.py exited " << r.exit_code << ":\n"
                                       << r.output << "document: " << text.substr(0, kShown)
                                       << (text.size() > kShown ? "..." : "");
}

}  // namespace

std::filesystem::path results_schema_path() {
  return std::filesystem::path(DANCER_SOURCE_DIR) / "docs" / "results.schema.json";
}

std::filesystem::path results_validator_path() {
  return std::filesystem::path(DANCER_SOURCE_DIR) / "tools" / "results_schema" / "validate.py";
}

::testing::AssertionResult matches_results_schema(const nlohmann::json& results) {
  return validate(results, "");
}

::testing::AssertionResult matches_analysis_schema(const nlohmann::json& analysis) {
  return validate(analysis, "analysis");
}

}  // namespace dancer::testing
