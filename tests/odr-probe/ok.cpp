struct Config {
  int timeout;
  bool verbose;
};
int ReadTimeout(const Config& c);
int main() {
  Config c{5, false};
  return ReadTimeout(c) == 5 ? 0 : 1;
}
