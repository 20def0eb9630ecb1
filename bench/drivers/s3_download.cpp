// s3_download: downloads one object with the service's S3Client (the code path a job
// uses) and prints {"bytes": N, "seconds": S} on stdout. bench/bench.py runs it under
// wait4() to read its CPU time and peak RSS beside curl, aws s3 cp and boto3.
//   s3_download ENDPOINT BUCKET KEY DEST [PART_SIZE_BYTES] [PARALLEL_PARTS] [RECV_BUFFER_BYTES]
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "aws/s3_client.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: s3_download ENDPOINT BUCKET KEY DEST [PART_SIZE] [PARALLEL_PARTS]\n";
    return 2;
  }
  dancer::aws::S3Config config;
  config.endpoint = argv[1];
  config.force_path_style = true;
  if (argc > 5) config.part_size = std::strtoull(argv[5], nullptr, 10);
  if (argc > 6) config.parallel_parts = std::atoi(argv[6]);
  if (argc > 7) config.receive_buffer_bytes = std::atol(argv[7]);
  const char* key_id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  dancer::aws::Credentials credentials;
  credentials.access_key_id = key_id ? key_id : "bench";
  credentials.secret_access_key = secret ? secret : "bench";
  try {
    dancer::aws::S3Client client(config, dancer::aws::make_static_provider(credentials));
    const auto start = std::chrono::steady_clock::now();
    const auto info = client.download_to_file(argv[2], argv[3], argv[4]);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("{\"bytes\": %llu, \"seconds\": %.6f}\n",
                static_cast<unsigned long long>(info.size), elapsed.count());
  } catch (const std::exception& e) {
    std::cerr << "s3_download: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
