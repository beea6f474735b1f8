// The other side: the same struct Config with another layout.
struct Config {
  long timeout;
  int retries;
  bool verbose;
};
int ReadTimeout(const Config& c);
int main() {
  Config c{5, 1, false};
  return ReadTimeout(c) == 5 ? 0 : 1;
}
