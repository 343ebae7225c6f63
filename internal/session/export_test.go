package session

// SetAfterRotate makes s run f between a refresh's winning rotation and its reading
// of the user, so a test can put a concurrent request exactly there.
func SetAfterRotate(s *Service, f func()) { s.afterRotate = f }
