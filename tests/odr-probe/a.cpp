// One side of a deliberate ODR violation: struct Config with one layout.
struct Config {
  int timeout;
  bool verbose;
};
int ReadTimeout(const Config& c) {
  return c.timeout;
}
